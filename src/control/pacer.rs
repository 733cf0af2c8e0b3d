//! What the transport's pacer allows the video encoder: when to skip
//! frames, and how many bits a second to plan for.
//!
//! The transport sends every packet through a pacer (str0m's), at
//! [`PACING_FACTOR`] times its bandwidth estimate. The estimate it reports
//! is an average over 3 s; the one it paces at is the latest. When the
//! estimate falls — a delay-based cut, or a probe's result below the
//! estimate before it — the pacer slows down at once while the average
//! takes seconds to follow. An encoder that planned with the average
//! would fill the pacer with seconds of frames: the picture arrives late,
//! its repairs later still, and the receiver, waiting for them, freezes
//! and asks for keyframes, the largest frames.
//!
//! So each transport reports, ten times a second, the estimate its pacer
//! paces at and how long its oldest video frame not yet sent has waited:
//! - **The budget**: what the pacer sends. The rate controller caps the
//!   encoder's target there (less the audio). The wait does not lower it:
//!   an IDR waits its own size at the pacing rate, and a budget that fell
//!   with that wait sent the target to its minimum at every IDR — the
//!   ladder stepped down (another IDR), and str0m's estimate, which
//!   follows what is sent, followed it down for seconds.
//! - **Skipping**: a frame encoded while the oldest frame in the pacer has
//!   waited more than [`BEHIND_US`] would wait at least that long itself,
//!   so it is skipped: the frame rate drops for as long as the pacer needs
//!   to catch up, and the frames that are sent arrive on time.
//!
//! With several transports (one encoder for all), the one furthest
//! behind skips frames and the smallest budget counts; one not heard from
//! for [`REPORT_AGE_US`] (its connection went quiet, or is gone) no longer
//! does.
//!
//! Pure decision code: reports in, a deadline and a budget out.

/// A pacer holding a frame back longer than this (more than a 720p IDR
/// takes at 1 Mbit/s) is behind.
pub const BEHIND_US: u64 = 300_000;
/// How long a report counts (reports come ten times a second).
pub const REPORT_AGE_US: u64 = 1_000_000;
/// The pacer sends at this many times its estimate (str0m's factor).
pub const PACING_FACTOR: f64 = 1.1;

/// One transport's latest report.
#[derive(Debug, Clone, Copy)]
struct Report {
    source: u32,
    wait_us: u64,
    estimate_bps: Option<u64>,
    at_us: u64,
}

/// What the pacers allow, after a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacerVerdict {
    /// Frames are skipped until then (0 or a time past: they are not).
    pub skip_until_us: u64,
    /// Bits a second the pacers send (None: no transport reported its
    /// estimate).
    pub budget_bps: Option<u64>,
}

/// See the module docs.
#[derive(Debug, Default)]
pub struct PacerGate {
    reports: Vec<Report>,
}

impl PacerGate {
    /// Transport `source` reports at `now_us` that its oldest video frame
    /// not yet sent has waited `wait_us` (0: none waits), and that its
    /// pacer paces at `estimate_bps` (times [`PACING_FACTOR`]).
    pub fn on_report(
        &mut self,
        now_us: u64,
        source: u32,
        wait_us: u64,
        estimate_bps: Option<u64>,
    ) -> PacerVerdict {
        self.reports
            .retain(|r| r.source != source && now_us.saturating_sub(r.at_us) < REPORT_AGE_US);
        self.reports.push(Report {
            source,
            wait_us,
            estimate_bps,
            at_us: now_us,
        });
        PacerVerdict {
            skip_until_us: self.skip_until(),
            budget_bps: self.budget(),
        }
    }

    /// Until when frames are skipped: a report of a pacer behind counts
    /// for [`REPORT_AGE_US`], unless a later one from the same transport
    /// says it caught up.
    fn skip_until(&self) -> u64 {
        self.reports
            .iter()
            .filter(|r| r.wait_us > BEHIND_US)
            .map(|r| r.at_us + REPORT_AGE_US)
            .max()
            .unwrap_or(0)
    }

    /// The smallest budget of the transports that reported an estimate.
    fn budget(&self) -> Option<u64> {
        self.reports
            .iter()
            .filter_map(|r| r.estimate_bps)
            .map(|e| (e as f64 * PACING_FACTOR) as u64)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000;

    fn skip(g: &mut PacerGate, now: u64, source: u32, wait: u64) -> u64 {
        g.on_report(now, source, wait, None).skip_until_us
    }

    #[test]
    fn frames_are_skipped_while_a_pacer_is_behind() {
        let mut g = PacerGate::default();
        assert_eq!(skip(&mut g, 0, 1, 0), 0);
        // An IDR's wait at a modest rate is no reason.
        assert_eq!(skip(&mut g, 100 * MS, 1, BEHIND_US), 0);
        let until = skip(&mut g, 200 * MS, 1, BEHIND_US + 1);
        assert!(until > 200 * MS);
        // Caught up: frames go out again at once.
        assert_eq!(skip(&mut g, 300 * MS, 1, 20 * MS), 0);
    }

    #[test]
    fn the_transport_furthest_behind_counts_and_a_quiet_one_stops_counting() {
        let mut g = PacerGate::default();
        skip(&mut g, 0, 1, 900 * MS);
        // Another transport on time does not end the skipping...
        assert!(skip(&mut g, 50 * MS, 2, 0) > 50 * MS);
        // ... until the one behind catches up.
        assert_eq!(skip(&mut g, 100 * MS, 1, 0), 0);
        // A transport behind that goes quiet: its report ages out.
        let until = skip(&mut g, 200 * MS, 1, 900 * MS);
        assert_eq!(until, 200 * MS + REPORT_AGE_US);
        assert_eq!(skip(&mut g, 200 * MS + REPORT_AGE_US, 2, 0), 0);
        assert_eq!(g.reports.len(), 1);
    }

    #[test]
    fn the_budget_is_what_the_pacer_sends() {
        let mut g = PacerGate::default();
        let mut budget = |now, wait, est| g.on_report(now, 1, wait, est).budget_bps;
        assert_eq!(budget(0, 0, None), None, "no estimate yet");
        assert_eq!(budget(100 * MS, 0, Some(1_000_000)), Some(1_100_000));
        // The estimate fell: the budget with it, at once.
        assert_eq!(budget(200 * MS, 0, Some(400_000)), Some(440_000));
        // Frames waiting (an IDR leaving) do not lower it; far behind,
        // frames are skipped instead.
        let v = g.on_report(300 * MS, 1, BEHIND_US * 2, Some(400_000));
        assert_eq!(v.budget_bps, Some(440_000));
        assert!(v.skip_until_us > 300 * MS);
    }

    #[test]
    fn the_smallest_budget_of_the_transports_heard_from_counts() {
        let mut g = PacerGate::default();
        g.on_report(0, 1, 0, Some(2_000_000));
        let v = g.on_report(10 * MS, 2, 0, Some(500_000));
        assert_eq!(v.budget_bps, Some(550_000));
        // One without an estimate does not count.
        assert_eq!(g.on_report(20 * MS, 3, 0, None).budget_bps, Some(550_000));
        // The narrow one goes quiet: after REPORT_AGE_US the others count.
        let v = g.on_report(10 * MS + REPORT_AGE_US, 1, 0, Some(2_000_000));
        assert_eq!(v.budget_bps, Some(2_200_000));
    }
}
