//! When the video encoder skips frames because a transport's pacer is far
//! behind.
//!
//! The transport sends every packet through a pacer (str0m's, at 1.1× its
//! bandwidth estimate). When the estimate falls faster than the encoder's
//! target — at the start of a call on a lossy or narrow path, it drops
//! from the configured maximum within seconds — or repairs take much of
//! the rate, frames already encoded wait there, and every later frame
//! waits behind them: the picture arrives seconds late, its repairs later
//! still, and the receiver, waiting for them, asks for keyframes, which
//! are the largest frames. A frame encoded while the oldest frame in the
//! pacer has waited more than [`BEHIND_US`] would wait at least that long
//! itself, so it is skipped: the frame rate drops for as long as the
//! pacer needs to catch up, and the frames that are sent arrive on time.
//!
//! With several transports (one encoder for all), the one furthest
//! behind counts; one not heard from for [`REPORT_AGE_US`] (its
//! connection went quiet, or is gone) no longer does.
//!
//! Pure decision code: reports in, a deadline out.

/// A pacer holding a frame back longer than this (more than a 720p IDR
/// takes at 1 Mbit/s) is behind.
pub const BEHIND_US: u64 = 300_000;
/// How long a report counts (reports come ten times a second).
pub const REPORT_AGE_US: u64 = 1_000_000;

/// See the module docs.
#[derive(Debug, Default)]
pub struct PacerGate {
    /// Each transport's latest report: (source, oldest frame's wait, when).
    reports: Vec<(u32, u64, u64)>,
}

impl PacerGate {
    /// Transport `source` reports at `now_us` that its oldest video frame
    /// not yet sent has waited `wait_us` (0: none waits). Returns until
    /// when frames are skipped (0 or a time past: they are not).
    pub fn on_report(&mut self, now_us: u64, source: u32, wait_us: u64) -> u64 {
        self.reports
            .retain(|&(s, _, at)| s != source && now_us.saturating_sub(at) < REPORT_AGE_US);
        self.reports.push((source, wait_us, now_us));
        self.skip_until()
    }

    /// Until when frames are skipped: a report of a pacer behind counts
    /// for [`REPORT_AGE_US`], unless a later one from the same transport
    /// says it caught up.
    fn skip_until(&self) -> u64 {
        self.reports
            .iter()
            .filter(|&&(_, wait, _)| wait > BEHIND_US)
            .map(|&(_, _, at)| at + REPORT_AGE_US)
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000;

    #[test]
    fn frames_are_skipped_while_a_pacer_is_behind() {
        let mut g = PacerGate::default();
        assert_eq!(g.on_report(0, 1, 0), 0);
        // An IDR's wait at a modest rate is no reason.
        assert_eq!(g.on_report(100 * MS, 1, BEHIND_US), 0);
        let until = g.on_report(200 * MS, 1, BEHIND_US + 1);
        assert!(until > 200 * MS);
        // Caught up: frames go out again at once.
        assert_eq!(g.on_report(300 * MS, 1, 20 * MS), 0);
    }

    #[test]
    fn the_transport_furthest_behind_counts_and_a_quiet_one_stops_counting() {
        let mut g = PacerGate::default();
        g.on_report(0, 1, 900 * MS);
        // Another transport on time does not end the skipping...
        assert!(g.on_report(50 * MS, 2, 0) > 50 * MS);
        // ... until the one behind catches up.
        assert_eq!(g.on_report(100 * MS, 1, 0), 0);
        // A transport behind that goes quiet: its report ages out.
        let until = g.on_report(200 * MS, 1, 900 * MS);
        assert_eq!(until, 200 * MS + REPORT_AGE_US);
        assert_eq!(g.on_report(200 * MS + REPORT_AGE_US, 2, 0), 0);
        assert_eq!(g.reports.len(), 1);
    }
}
