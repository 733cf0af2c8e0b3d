//! Opus settings steered by the loss the peer reports (RTCP receiver
//! reports): the in-band FEC's expected-loss hint and the bitrate that pays
//! for it. FEC costs quality on a clean link (PESQ-WB 3.94 → 3.69 at a 10 %
//! hint) and saves it under loss (10 % loss: 1.62 → 2.87), so the hint
//! follows the loss: it rises at once when loss appears and decays over
//! seconds when it goes away, with hysteresis so that the encoder is not
//! reconfigured on every report. The bitrate also follows the path's
//! estimate: a narrow path leaves the speech at 32 kbit/s, so that the
//! video keeps its share.

use crate::codec::opus::OpusSettings;

/// How many packets back each RED copy in an audio packet comes from: a
/// packet carries the three frames before it, so a frame is lost for good
/// only when four in a row are (0.8 % of them at 30 % random loss, 2.7 %
/// with two copies; PESQ-WB 3.14-3.42 against 2.55-3.08 in the bench).
pub const RED_DISTANCES: [u32; 3] = [1, 2, 3];
/// Frames of audio one packet carries with RED on: its own and the copies.
pub const RED_FRAMES_PER_PACKET: u64 = 1 + RED_DISTANCES.len() as u64;

/// Reported loss at or above which each packet also carries the previous
/// frames (RFC 2198 RED).
const RED_ON_LOSS: f64 = 0.02;
/// Redundancy goes off after the reported loss stayed below this for
/// [`RED_CALM_US`].
const RED_CALM_LOSS: f64 = 0.01;
const RED_CALM_US: u64 = 10_000_000;

/// A path estimated below this carries speech at no more than
/// [`NARROW_PATH_BITRATE`] (the configured bitrate otherwise: 48 kbit/s
/// by default, PESQ-WB 4.05 against 3.82 at 32 kbit/s on this project's
/// speech); above [`WIDE_PATH_BPS`] for [`WIDE_HOLD_US`] it gets the
/// configured bitrate back.
const NARROW_PATH_BPS: u64 = 1_000_000;
const WIDE_PATH_BPS: u64 = 1_300_000;
const WIDE_HOLD_US: u64 = 5_000_000;
const NARROW_PATH_BITRATE: u32 = 32_000;

/// Time constant of the loss estimate's decay, microseconds.
const DECAY_US: f64 = 5_000_000.0;
/// Smallest time between two changes that lower protection.
const HOLD_US: u64 = 2_000_000;
/// Below this loss the hint is 0: no FEC bits spent.
const CLEAN: f64 = 0.005;
/// The hint never goes above this (more buys nothing at 20 ms frames).
const MAX_HINT_PCT: u8 = 40;
/// Loss up to which the bitrate grows to pay for the FEC.
const MAX_BOOST_LOSS: f64 = 0.25;
/// The bitrate grows by this much per unit of loss (25 % loss: 1.5x).
const BOOST_PER_LOSS: f64 = 2.0;

/// What the encoder should run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioMode {
    /// Opus' expected packet loss in percent (its FEC budget).
    pub expected_loss_pct: u8,
    pub bitrate_bps: u32,
}

/// See the module docs.
#[derive(Debug)]
pub struct AudioModeController {
    base: OpusSettings,
    /// Smoothed loss fraction, once the peer has reported.
    loss: Option<f64>,
    last_report_us: u64,
    mode: AudioMode,
    last_change_us: Option<u64>,
    /// The loss the FEC covers (what RED leaves), once reported.
    uncovered: Option<f64>,
    /// Whether the path is narrow (see [`NARROW_PATH_BPS`]), and since
    /// when it has been wide.
    narrow: bool,
    wide_since: Option<u64>,
}

impl AudioModeController {
    /// Starts from `base` (its hint holds until the peer first reports).
    pub fn new(base: OpusSettings) -> Self {
        AudioModeController {
            base,
            loss: None,
            last_report_us: 0,
            mode: AudioMode {
                expected_loss_pct: base.expected_loss_pct,
                bitrate_bps: base.bitrate_bps,
            },
            last_change_us: None,
            uncovered: None,
            narrow: false,
            wide_since: None,
        }
    }

    /// The narrowest path's estimate, bits per second, at `now_us`.
    /// Returns the new mode when the encoder should change.
    pub fn on_path_estimate(&mut self, now_us: u64, estimate_bps: u64) -> Option<AudioMode> {
        if estimate_bps == 0 {
            return None;
        }
        let was = self.narrow;
        if estimate_bps < NARROW_PATH_BPS {
            self.narrow = true;
            self.wide_since = None;
        } else if estimate_bps >= WIDE_PATH_BPS {
            let since = *self.wide_since.get_or_insert(now_us);
            if now_us.saturating_sub(since) >= WIDE_HOLD_US {
                self.narrow = false;
            }
        } else {
            self.wide_since = None;
        }
        if self.narrow == was {
            return None;
        }
        let want = match self.uncovered {
            Some(u) => self.mode_for(u),
            None => AudioMode {
                expected_loss_pct: self.mode.expected_loss_pct,
                bitrate_bps: self.base_bps(),
            },
        };
        (want != self.mode).then(|| {
            self.mode = want;
            want
        })
    }

    /// The bitrate speech gets on this path before paying for FEC.
    fn base_bps(&self) -> u32 {
        if self.narrow {
            self.base.bitrate_bps.min(NARROW_PATH_BITRATE)
        } else {
            self.base.bitrate_bps
        }
    }

    /// The mode in force.
    pub fn mode(&self) -> AudioMode {
        self.mode
    }

    /// The smoothed loss estimate, 0..=1 (None before the first report).
    pub fn loss(&self) -> Option<f64> {
        self.loss
    }

    /// The peer reported `loss` (fraction 0..=1 of what we sent, since its
    /// last report) at `now_us`; `redundancy` says whether every peer gets
    /// our packets with RED copies of the frames before them, which leaves
    /// the FEC only what RED cannot rebuild ([`RED_FRAMES_PER_PACKET`]
    /// frames lost in a row). Returns the new mode when the encoder should
    /// change.
    pub fn on_loss_report(
        &mut self,
        now_us: u64,
        loss: f32,
        redundancy: bool,
    ) -> Option<AudioMode> {
        let reported = if loss.is_finite() {
            (loss as f64).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let smoothed = match self.loss {
            // Loss appears: protect at once.
            Some(l) if reported >= l => reported,
            Some(l) => {
                let dt = now_us.saturating_sub(self.last_report_us) as f64;
                l + (reported - l) * (1.0 - (-dt / DECAY_US).exp())
            }
            None => reported,
        };
        self.loss = Some(smoothed);
        self.last_report_us = now_us;
        let uncovered = if redundancy {
            smoothed.powi(RED_FRAMES_PER_PACKET as i32)
        } else {
            smoothed
        };
        self.uncovered = Some(uncovered);
        let want = self.mode_for(uncovered);
        let current = self.mode;
        let more_protection = want.expected_loss_pct > current.expected_loss_pct;
        let differs = want.expected_loss_pct.abs_diff(current.expected_loss_pct) >= 2
            || (want.expected_loss_pct == 0) != (current.expected_loss_pct == 0);
        let held = self
            .last_change_us
            .is_none_or(|t| now_us.saturating_sub(t) >= HOLD_US);
        if differs && (more_protection || held) {
            self.mode = want;
            self.last_change_us = Some(now_us);
            return Some(want);
        }
        None
    }

    fn mode_for(&self, loss: f64) -> AudioMode {
        if loss < CLEAN {
            return AudioMode {
                expected_loss_pct: 0,
                bitrate_bps: self.base_bps(),
            };
        }
        let hint = ((loss * 100.0).round().max(1.0) as u8).min(MAX_HINT_PCT);
        let boost = 1.0 + BOOST_PER_LOSS * loss.min(MAX_BOOST_LOSS);
        AudioMode {
            expected_loss_pct: hint,
            bitrate_bps: ((self.base_bps() as f64 * boost) as u32).min(510_000),
        }
    }
}

/// Whether audio packets to one peer carry redundant copies of the frames
/// before them (RFC 2198 RED, negotiated as `red/48000/2`). A packet then
/// rebuilds up to [`RED_DISTANCES`]`.len()` frames lost just before it at
/// full quality, which Opus' own FEC (one frame back, at a lower bitrate)
/// cannot; each copy costs another frame of audio bitrate per packet. It
/// starts on, since nothing is known about the path at first, goes on as
/// soon as the peer reports loss, and off after a long calm.
#[derive(Debug, Clone)]
pub struct RedundancyPolicy {
    on: bool,
    /// Since when every report has been calm.
    calm_since: Option<u64>,
}

impl Default for RedundancyPolicy {
    fn default() -> Self {
        RedundancyPolicy {
            on: true,
            calm_since: None,
        }
    }
}

impl RedundancyPolicy {
    /// Whether redundancy is on.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// The peer reported `loss` (fraction 0..=1 of what we sent) at
    /// `now_us`. Returns the new setting when it changes.
    pub fn on_loss_report(&mut self, now_us: u64, loss: f32) -> Option<bool> {
        let loss = if loss.is_finite() { loss as f64 } else { 0.0 };
        if loss >= RED_CALM_LOSS {
            self.calm_since = None;
        } else {
            self.calm_since.get_or_insert(now_us);
        }
        let want = if loss >= RED_ON_LOSS {
            true
        } else if self
            .calm_since
            .is_some_and(|t| now_us.saturating_sub(t) >= RED_CALM_US)
        {
            false
        } else {
            self.on
        };
        (want != self.on).then(|| {
            self.on = want;
            want
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    fn controller() -> AudioModeController {
        AudioModeController::new(OpusSettings {
            bitrate_bps: 32_000,
            ..OpusSettings::default()
        })
    }

    #[test]
    fn a_narrow_path_keeps_speech_at_32_kbit_and_a_wide_one_gets_the_configured_rate() {
        let mut c = AudioModeController::new(OpusSettings::default());
        assert_eq!(c.mode().bitrate_bps, 48_000, "the default");
        assert_eq!(c.on_path_estimate(0, 2_500_000), None, "wide already");
        // The path narrows: at once.
        let m = c.on_path_estimate(S, 600_000).expect("narrower");
        assert_eq!(m.bitrate_bps, 32_000);
        // Loss on the narrow path pays for FEC from the narrow rate.
        c.on_loss_report(S + S / 2, 0.0, false).expect("no FEC");
        let m = c.on_loss_report(2 * S, 0.10, false).expect("protect");
        assert_eq!(m.bitrate_bps, 38_400);
        // Between the thresholds: no change either way.
        assert_eq!(c.on_path_estimate(3 * S, 1_100_000), None);
        // Wide again: only after 5 s of it.
        let back = (4..20).find_map(|t| c.on_path_estimate(t * S, 1_500_000).map(|m| (t, m)));
        let (t, m) = back.expect("wide again");
        assert_eq!(t, 9);
        assert_eq!(m.bitrate_bps, 57_600, "48 kbit/s and its FEC");
        // A configured bitrate below the narrow rate is never raised.
        let mut low = controller();
        low.on_path_estimate(0, 300_000);
        assert_eq!(low.mode().bitrate_bps, 32_000);
        assert_eq!(low.on_path_estimate(S, 0), None, "no estimate: nothing");
    }

    /// Reports once a second from `from` s to `to` s; the last mode change.
    fn report(c: &mut AudioModeController, from: u64, to: u64, loss: f32) -> Vec<AudioMode> {
        (from..to)
            .filter_map(|t| c.on_loss_report(t * S, loss, false))
            .collect()
    }

    #[test]
    fn a_clean_link_turns_the_fec_budget_off() {
        let mut c = controller();
        assert_eq!(c.mode().expected_loss_pct, 10, "the configured start");
        let changes = report(&mut c, 0, 5, 0.0);
        assert_eq!(
            changes,
            vec![AudioMode {
                expected_loss_pct: 0,
                bitrate_bps: 32_000
            }]
        );
    }

    #[test]
    fn loss_raises_protection_at_once_and_it_decays_after() {
        let mut c = controller();
        report(&mut c, 0, 3, 0.0);
        // 10 % loss appears: the next report protects.
        let m = c.on_loss_report(3 * S, 0.10, false).expect("a change");
        assert_eq!(m.expected_loss_pct, 10);
        assert_eq!(m.bitrate_bps, 38_400, "the FEC is paid for");
        // 20 % loss: more at once, even right after a change.
        let m = c
            .on_loss_report(3 * S + 100_000, 0.20, false)
            .expect("a change");
        assert_eq!(m.expected_loss_pct, 20);
        // Loss gone: protection stays a few seconds, then goes.
        assert_eq!(c.on_loss_report(4 * S, 0.0, false), None, "held");
        let off = (5..40)
            .find(|&t| {
                c.on_loss_report(t * S, 0.0, false)
                    .is_some_and(|m| m.expected_loss_pct == 0)
            })
            .expect("back to no FEC");
        assert!((15..=35).contains(&off), "off after {off} s");
        assert_eq!(c.mode().bitrate_bps, 32_000);
    }

    #[test]
    fn steady_loss_does_not_reconfigure_the_encoder_on_every_report() {
        let mut c = controller();
        let mut rng = fastrand::Rng::with_seed(5);
        // 5 % ± 1.5 % for a minute.
        let changes = (0..60)
            .filter(|&t| {
                let loss = 0.05 + (rng.f32() - 0.5) * 0.03;
                c.on_loss_report(t * S, loss, false).is_some()
            })
            .count();
        assert!(changes <= 8, "{changes} changes");
        let hint = c.mode().expected_loss_pct;
        assert!((4..=7).contains(&hint), "hint {hint}");
    }

    #[test]
    fn with_redundancy_the_fec_covers_only_what_red_cannot() {
        let mut c = controller();
        // 10 % loss with RED to every peer: four in a row is 0.01 %, below
        // what FEC is spent on, so the bits go to the speech itself.
        let m = c.on_loss_report(0, 0.10, true).expect("a change");
        assert_eq!((m.expected_loss_pct, m.bitrate_bps), (0, 32_000));
        // 40 %: 2.6 % left for FEC.
        let m = c.on_loss_report(S, 0.40, true).expect("a change");
        assert_eq!(m.expected_loss_pct, 3);
        // A peer without RED joins: FEC covers the whole loss again, as far
        // as the hint goes.
        let m = c.on_loss_report(2 * S, 0.40, false).expect("a change");
        assert_eq!(m.expected_loss_pct, MAX_HINT_PCT);
    }

    #[test]
    fn garbage_reports_are_bounded() {
        let mut c = controller();
        c.on_loss_report(0, f32::NAN, false);
        assert_eq!(c.loss(), Some(0.0));
        let m = c.on_loss_report(S, 7.0, false).unwrap();
        assert_eq!(m.expected_loss_pct, MAX_HINT_PCT);
        assert_eq!(m.bitrate_bps, 48_000);
        c.on_loss_report(0, -1.0, false);
    }

    #[test]
    fn redundancy_starts_on_follows_loss_and_goes_off_after_a_calm() {
        let mut r = RedundancyPolicy::default();
        assert!(r.is_on(), "on before the first report");
        // A clean path: off once it has been calm for 10 s.
        let off = (0..30).find(|&t| r.on_loss_report(t * S, 0.0) == Some(false));
        assert_eq!(off, Some(10));
        // Loss: on at the first report that shows it.
        assert_eq!(r.on_loss_report(30 * S, 0.005), None, "noise is not loss");
        assert_eq!(r.on_loss_report(31 * S, 0.05), Some(true));
        // Loss that comes and goes keeps it on.
        for t in 32..80 {
            let loss = if t % 7 == 0 { 0.03 } else { 0.0 };
            assert_eq!(r.on_loss_report(t * S, loss), None, "at {t} s");
        }
        assert!(r.is_on());
        // Garbage reads as no loss.
        let mut r = RedundancyPolicy::default();
        for t in 0..=10 {
            r.on_loss_report(t * S, f32::NAN);
        }
        assert!(!r.is_on());
        assert_eq!(r.on_loss_report(11 * S, f32::INFINITY), None);
    }
}
