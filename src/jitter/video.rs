//! Render scheduling for received video: when each decoded frame should be
//! shown. Frames leave the network unevenly — a packet repaired by NACK
//! holds its frame (and the ones behind it) for a round trip, then they
//! come in a burst — and showing each the moment it is decoded turns that
//! into a freeze followed by a fast-forward. Shown at its capture time plus
//! a steady delay that covers how late frames arrive, the same stream
//! plays smoothly.
//!
//! The delay adapts: the transit of every frame (arrival minus its RTP
//! timestamp) is compared with the quickest seen lately; the target is a
//! high percentile of that lateness over the last few seconds, within the
//! bounds of the [`VideoDelay`] mode. A frame whose time has passed is
//! shown at once (and counted late).
//!
//! Pure decision code: arrival times in, render times out.

use std::collections::VecDeque;

/// How much delay the receiver may add to play smoothly: the knob between
/// the lowest latency and the fewest freezes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VideoDelay {
    /// Frames are shown as soon as they are decoded.
    Immediate,
    /// Up to 100 ms, covering 95 % of frames' lateness.
    LowLatency,
    /// Up to 400 ms, covering 99.5 % (a NACK repair every second on
    /// paths up to ~300 ms).
    #[default]
    Balanced,
    /// Up to 1 s, covering every frame of the last 10 s.
    Smooth,
}

impl VideoDelay {
    /// (largest delay, share of frames it should cover)
    fn bounds(self) -> (u64, f64) {
        match self {
            VideoDelay::Immediate => (0, 0.0),
            VideoDelay::LowLatency => (100_000, 0.95),
            VideoDelay::Balanced => (400_000, 0.995),
            VideoDelay::Smooth => (1_000_000, 1.0),
        }
    }
}

/// Frames whose lateness the target is computed over (10 s at 30 fps).
const WINDOW: usize = 300;
/// The quickest transit is forgotten after this many frames, so that a
/// path that got slower for good stops counting as late.
const BASE_WINDOW: usize = 600;
/// Added to the percentile: decoding and render jitter.
const MARGIN_US: u64 = 10_000;
/// The delay falls at most this much per frame (no visible fast-forward:
/// ~3 % faster), and rises at once.
const MAX_FALL_PER_FRAME_US: u64 = 1_000;

/// See the module docs.
#[derive(Debug)]
pub struct RenderScheduler {
    mode: VideoDelay,
    /// (frame number, transit) of recent frames, for the quickest transit.
    transits: VecDeque<(u64, i64)>,
    /// Lateness of recent frames beyond the quickest transit.
    lateness: VecDeque<u64>,
    /// Reused to find the percentile without allocating per frame.
    scratch: Vec<u64>,
    frames: u64,
    /// The delay that covers the network's unevenness.
    delay_us: u64,
    /// Delay lip sync asks for on top, and how much of it is applied
    /// (it moves at most [`MAX_FALL_PER_FRAME_US`] a frame either way).
    sync_us: u64,
    sync_applied_us: u64,
    late: u64,
}

impl RenderScheduler {
    pub fn new(mode: VideoDelay) -> Self {
        RenderScheduler {
            mode,
            transits: VecDeque::new(),
            lateness: VecDeque::new(),
            scratch: Vec::with_capacity(WINDOW + 1),
            frames: 0,
            delay_us: 0,
            sync_us: 0,
            sync_applied_us: 0,
            late: 0,
        }
    }

    /// The delay added now, microseconds (lip sync's part included).
    pub fn delay_us(&self) -> u64 {
        self.delay_us + self.sync_applied_us
    }

    /// Lip sync asks for `us` more delay (audio plays later than the
    /// picture). Reached a millisecond a frame, both ways, so the picture
    /// slows or hurries by ~3 % rather than jumping.
    pub fn set_extra_delay_us(&mut self, us: u64) {
        self.sync_us = us;
    }

    /// Frames that were due before they arrived.
    pub fn late_frames(&self) -> u64 {
        self.late
    }

    /// A complete frame with media time `rtp_us` (its RTP timestamp in
    /// microseconds: the sender's capture timeline) arrived at
    /// `arrival_us`. Returns when to show it, on the arrival clock.
    pub fn on_frame(&mut self, rtp_us: u64, arrival_us: u64) -> u64 {
        let transit = arrival_us as i64 - rtp_us as i64;
        self.frames += 1;
        while self
            .transits
            .front()
            .is_some_and(|&(n, _)| n + BASE_WINDOW as u64 <= self.frames)
        {
            self.transits.pop_front();
        }
        // A monotonic deque: its front is the quickest transit in the window.
        while self.transits.back().is_some_and(|&(_, t)| t >= transit) {
            self.transits.pop_back();
        }
        self.transits.push_back((self.frames, transit));
        let base = self.transits.front().map_or(transit, |&(_, t)| t);
        let late_by = (transit - base) as u64;
        self.lateness.push_back(late_by);
        if self.lateness.len() > WINDOW {
            self.lateness.pop_front();
        }
        let (max, share) = self.mode.bounds();
        let want = if max == 0 {
            0
        } else {
            self.scratch.clear();
            self.scratch.extend(self.lateness.iter().copied());
            let i = ((self.scratch.len() - 1) as f64 * share).round() as usize;
            let (_, &mut at, _) = self.scratch.select_nth_unstable(i);
            (at + MARGIN_US).min(max)
        };
        self.delay_us = if want >= self.delay_us {
            want
        } else {
            self.delay_us
                .saturating_sub(MAX_FALL_PER_FRAME_US)
                .max(want)
        };
        self.sync_applied_us = if self.sync_us >= self.sync_applied_us {
            (self.sync_applied_us + MAX_FALL_PER_FRAME_US).min(self.sync_us)
        } else {
            self.sync_applied_us
                .saturating_sub(MAX_FALL_PER_FRAME_US)
                .max(self.sync_us)
        };
        let due = (rtp_us as i64 + base) as u64 + self.delay_us();
        if due < arrival_us {
            self.late += 1;
            return arrival_us;
        }
        due
    }
}

/// Frame intervals the average frame duration is taken over.
const FREEZE_WINDOW: usize = 30;
/// A gap counts as a freeze beyond the average interval plus this...
const FREEZE_EXTRA_US: u64 = 150_000;
/// ...or beyond this many average intervals, whichever is longer.
const FREEZE_FACTOR: u64 = 3;
/// A gap this long is a pause (the sender stopped: video muted, app in the
/// background), neither a freeze nor a frame interval.
const PAUSE_US: u64 = 5_000_000;

/// Counts freezes in shown video the way WebRTC's receive statistics do
/// (`freezeCount`, `totalFreezesDuration`): a gap between two shown frames
/// is a freeze when it is longer than both three average frame intervals
/// and the average plus 150 ms, the average taken over the last 30
/// intervals that were not freezes. Gaps of 5 s or more are pauses (the
/// sender stopped its video), not freezes, as in WebRTC.
#[derive(Debug, Default)]
pub struct FreezeMeter {
    last_us: Option<u64>,
    intervals: VecDeque<u64>,
    sum_us: u64,
    freezes: u64,
    frozen_us: u64,
}

impl FreezeMeter {
    /// A frame was shown at `now_us`.
    pub fn on_shown(&mut self, now_us: u64) {
        let Some(last) = self.last_us.replace(now_us) else {
            return;
        };
        let gap = now_us.saturating_sub(last);
        if gap >= PAUSE_US {
            return;
        }
        if self.intervals.len() >= FREEZE_WINDOW / 3 {
            let avg = self.sum_us / self.intervals.len() as u64;
            if gap > (avg * FREEZE_FACTOR).max(avg + FREEZE_EXTRA_US) {
                self.freezes += 1;
                self.frozen_us += gap;
                return;
            }
        }
        self.intervals.push_back(gap);
        self.sum_us += gap;
        if self.intervals.len() > FREEZE_WINDOW {
            self.sum_us -= self.intervals.pop_front().unwrap_or(0);
        }
    }

    /// Freezes so far.
    pub fn freezes(&self) -> u64 {
        self.freezes
    }

    /// Their total length, microseconds.
    pub fn frozen_us(&self) -> u64 {
        self.frozen_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000;
    const FRAME: u64 = 33_333;

    /// 30 fps for `seconds`; `extra(i)` is frame i's delay beyond a 20 ms
    /// path. The gaps between consecutive render times, and the scheduler.
    fn play(
        mode: VideoDelay,
        seconds: u64,
        extra: impl Fn(u64) -> u64,
    ) -> (Vec<u64>, RenderScheduler) {
        let mut s = RenderScheduler::new(mode);
        let mut renders = Vec::new();
        for i in 0..seconds * 30 {
            let rtp = 1_000_000 + i * FRAME;
            let arrival = 5_000_000 + i * FRAME + 20 * MS + extra(i);
            renders.push(s.on_frame(rtp, arrival));
        }
        let gaps = renders
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .collect();
        (gaps, s)
    }

    /// A NACK repair every 2 s: one frame waits a 150 ms round trip and
    /// the four behind it come in the same burst.
    fn repairs(i: u64) -> u64 {
        match i % 60 {
            30 => 150 * MS,
            31 => 150 * MS - FRAME,
            32 => 150 * MS - 2 * FRAME,
            33 => 150 * MS - 3 * FRAME,
            34 => 150 * MS - 4 * FRAME,
            _ => (i * 7919) % (5 * MS),
        }
    }

    #[test]
    fn a_clean_path_adds_only_a_few_milliseconds() {
        let (gaps, s) = play(VideoDelay::Balanced, 10, |i| (i * 7919) % (5 * MS));
        assert!(s.delay_us() <= 20 * MS, "delay {} us", s.delay_us());
        assert!(gaps.iter().all(|&g| g < 2 * FRAME), "{gaps:?}");
    }

    #[test]
    fn nack_repairs_play_without_freezes_once_the_delay_has_grown() {
        let (gaps, s) = play(VideoDelay::Balanced, 30, repairs);
        // After the first repairs taught it the lateness: no frame shown
        // more than 1.5 frame intervals after the previous one.
        let freezes = gaps[5 * 30..]
            .iter()
            .filter(|&&g| g > FRAME * 3 / 2)
            .count();
        eprintln!(
            "delay {} ms, {} late, freezes {freezes}",
            s.delay_us() / 1000,
            s.late_frames()
        );
        assert_eq!(freezes, 0);
        assert!(
            (150 * MS..=200 * MS).contains(&s.delay_us()),
            "{}",
            s.delay_us()
        );
        // The same stream shown as soon as decoded freezes at every repair.
        let (gaps, _) = play(VideoDelay::Immediate, 30, repairs);
        let freezes = gaps[5 * 30..]
            .iter()
            .filter(|&&g| g > FRAME * 3 / 2)
            .count();
        assert_eq!(freezes, 12, "one per repair");
    }

    #[test]
    fn low_latency_caps_the_delay() {
        let (_, s) = play(VideoDelay::LowLatency, 20, repairs);
        assert!(s.delay_us() <= 100 * MS);
    }

    #[test]
    fn the_delay_comes_back_down_slowly_after_the_repairs_stop() {
        let mut s = RenderScheduler::new(VideoDelay::Balanced);
        let mut last = 0;
        for i in 0..60 * 30u64 {
            let extra = if i < 20 * 30 {
                repairs(i)
            } else {
                (i * 7919) % (5 * MS)
            };
            let render = s.on_frame(i * FRAME, i * FRAME + 20 * MS + extra);
            if i > 0 && i >= 20 * 30 {
                // Never faster than ~3 % above real time.
                assert!(render >= last + FRAME - MAX_FALL_PER_FRAME_US, "frame {i}");
            }
            last = render;
        }
        assert!(
            s.delay_us() <= 20 * MS,
            "delay {} us after 40 s clean",
            s.delay_us()
        );
    }

    #[test]
    fn lip_sync_delay_is_eased_in_and_out() {
        let mut s = RenderScheduler::new(VideoDelay::Balanced);
        let mut renders = Vec::new();
        for i in 0..20 * 30u64 {
            match i {
                150 => s.set_extra_delay_us(120 * MS),
                450 => s.set_extra_delay_us(0),
                _ => {}
            }
            renders.push(s.on_frame(i * FRAME, i * FRAME + 20 * MS));
            if i == 440 {
                assert!(
                    (120 * MS..=140 * MS).contains(&s.delay_us()),
                    "{}",
                    s.delay_us()
                );
            }
        }
        // Never a jump: every frame within 1 ms of the frame interval.
        for w in renders.windows(2) {
            assert!(w[1] - w[0] <= FRAME + MAX_FALL_PER_FRAME_US, "{w:?}");
            assert!(w[1] - w[0] + MAX_FALL_PER_FRAME_US >= FRAME, "{w:?}");
        }
        assert!(s.delay_us() <= 20 * MS, "{}", s.delay_us());
    }

    #[test]
    fn renders_are_never_before_arrival() {
        let mut s = RenderScheduler::new(VideoDelay::Smooth);
        let mut rng = fastrand::Rng::with_seed(11);
        for i in 0..3_000u64 {
            let arrival = i * FRAME + rng.u64(0..300 * MS);
            let render = s.on_frame(i * FRAME, arrival);
            assert!(render >= arrival);
        }
        assert!(s.delay_us() <= 1_000_000);
    }

    #[test]
    fn freezes_are_gaps_far_longer_than_the_frame_interval() {
        let mut m = FreezeMeter::default();
        let mut t = 0;
        for i in 0..300u64 {
            // 30 fps with a few ms of render jitter, a 100 ms hiccup at
            // frame 100 (under avg + 150 ms: not a freeze), a 400 ms and
            // a 1 s gap.
            t += match i {
                100 => 100 * MS,
                150 => 400 * MS,
                200 => 1_000 * MS,
                _ => FRAME + (i * 7919) % (4 * MS),
            };
            m.on_shown(t);
        }
        assert_eq!(m.freezes(), 2);
        assert_eq!(m.frozen_us(), 1_400 * MS);
    }

    #[test]
    fn at_a_low_frame_rate_the_threshold_is_three_intervals() {
        let mut m = FreezeMeter::default();
        let mut t = 0;
        // 5 fps: 200 ms frames; 500 ms is not a freeze, 700 ms is.
        for gap in [200; 20].into_iter().chain([500, 200, 200, 700, 200]) {
            t += gap * MS;
            m.on_shown(t);
        }
        assert_eq!((m.freezes(), m.frozen_us()), (1, 700 * MS));
    }

    #[test]
    fn a_pause_of_five_seconds_or_more_is_not_a_freeze() {
        let mut m = FreezeMeter::default();
        let mut t = 0;
        for gap in [FRAME; 30].into_iter().chain([6_000 * MS, FRAME, FRAME]) {
            t += gap;
            m.on_shown(t);
        }
        assert_eq!((m.freezes(), m.frozen_us()), (0, 0));
    }

    #[test]
    fn the_first_frames_teach_the_interval_before_anything_counts() {
        let mut m = FreezeMeter::default();
        for t in [0, 2_000, 2_033, 2_066] {
            m.on_shown(t * MS);
        }
        assert_eq!(m.freezes(), 0);
    }
}
