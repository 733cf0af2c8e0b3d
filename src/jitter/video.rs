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
//! Covering every repair in full costs the whole call its rarest delays:
//! at 20 % loss a few frames a second wait for a second or third
//! retransmission, and a delay sized for them holds every other frame
//! ~100 ms longer. `Balanced` covers 95 % of frames in full and keeps the
//! rarer late ones from freezing: it shows them at most [`HITCH_US`] late,
//! a hitch short of what counts as a freeze (150 ms beyond the frame
//! interval).
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
    /// Up to 400 ms: covers 95 % of the last 5 s of frames in full, and
    /// every one of them to within a hitch of [`HITCH_US`] (no freeze).
    #[default]
    Balanced,
    /// Up to 1 s, covering every frame of the last 10 s.
    Smooth,
}

/// What a mode's delay covers.
#[derive(Debug, Clone, Copy)]
struct Coverage {
    max_us: u64,
    /// Frames the lateness is taken over.
    window: usize,
    /// Share of frames shown on time.
    on_time: f64,
    /// Share of frames shown no more than [`HITCH_US`] late.
    unfrozen: f64,
    /// Whether a keyframe's lateness (and that of the frames queued
    /// behind it) counts: see [`RenderScheduler::resync`].
    counts_keyframes: bool,
}

impl VideoDelay {
    fn coverage(self) -> Coverage {
        let (max_us, window, on_time, unfrozen) = match self {
            VideoDelay::Immediate => (0, 1, 0.0, 0.0),
            VideoDelay::LowLatency => (100_000, WINDOW / 2, 0.95, 0.95),
            VideoDelay::Balanced => (400_000, WINDOW / 2, 0.95, 1.0),
            VideoDelay::Smooth => (1_000_000, WINDOW, 1.0, 1.0),
        };
        Coverage {
            max_us,
            window,
            on_time,
            unfrozen,
            counts_keyframes: false,
        }
    }
}

/// `Balanced` while lip sync follows the picture's delay.
const STEADY_BALANCED: Coverage = Coverage {
    max_us: 400_000,
    window: WINDOW,
    on_time: 0.995,
    unfrozen: 0.995,
    counts_keyframes: true,
};

/// Frames whose lateness is kept (10 s at 30 fps): the longest window.
const WINDOW: usize = 300;
/// How late `Balanced` may show its rarest late frames: seen as a hitch,
/// short of a freeze (a gap 150 ms longer than the frame interval).
pub const HITCH_US: u64 = 100_000;
/// The quickest transit is forgotten after this many frames, so that a
/// path that got slower for good stops counting as late.
const BASE_WINDOW: usize = 600;
/// Added to the percentile: decoding and render jitter.
const MARGIN_US: u64 = 10_000;
/// Frames after [`RenderScheduler::resync`] that may arrive late without
/// counting (one second at 30 fps).
const CATCH_UP_FRAMES: usize = 30;
/// The delay falls at most this much per frame (no visible fast-forward:
/// ~3 % faster), and rises at once.
const MAX_FALL_PER_FRAME_US: u64 = 1_000;

/// See the module docs.
#[derive(Debug)]
pub struct RenderScheduler {
    mode: VideoDelay,
    /// What the delay covers (the mode's, or its steadier form for lip
    /// sync).
    cover: Coverage,
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
    /// Frames left that may still be catching up after [`Self::resync`].
    catching_up: usize,
}

impl RenderScheduler {
    pub fn new(mode: VideoDelay) -> Self {
        RenderScheduler {
            mode,
            cover: mode.coverage(),
            transits: VecDeque::new(),
            lateness: VecDeque::new(),
            scratch: Vec::with_capacity(WINDOW + 1),
            frames: 0,
            delay_us: 0,
            sync_us: 0,
            sync_applied_us: 0,
            late: 0,
            catching_up: 0,
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

    /// Lip sync follows this picture's delay. The audio follows it in
    /// steps made in pauses of speech, which lag far behind a delay that
    /// moves with every late keyframe and falls back over seconds, so
    /// `Balanced` then keeps a steadier one: it covers 99.5 % of the last
    /// 10 s in full, keyframes included (usually higher: the price of
    /// lip sync).
    pub fn follow_lip_sync(&mut self) {
        self.cover = match self.mode {
            VideoDelay::Balanced => STEADY_BALANCED,
            _ => Coverage {
                counts_keyframes: true,
                ..self.cover
            },
        };
    }

    /// Frames that were due before they arrived.
    pub fn late_frames(&self) -> u64 {
        self.late
    }

    /// A keyframe comes next: the stream's first, one that ends a freeze
    /// after a frame was lost for good, or one at a new resolution. It
    /// is several times a frame's size and comes seldom, so its lateness
    /// says little about the frames after it, and a delay raised after
    /// it has come would only hold them back. It and the frames queued
    /// behind it are shown as soon as they arrive and do not raise the
    /// delay, until one arrives within it (at most [`CATCH_UP_FRAMES`]).
    pub fn resync(&mut self) {
        if !self.cover.counts_keyframes {
            self.catching_up = CATCH_UP_FRAMES;
        }
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
        if self.catching_up > 0 && late_by > self.delay_us {
            self.catching_up -= 1;
        } else {
            self.catching_up = 0;
            self.lateness.push_back(late_by);
            if self.lateness.len() > WINDOW {
                self.lateness.pop_front();
            }
        }
        let cover = self.cover;
        let want = if cover.max_us == 0 || self.lateness.is_empty() {
            0
        } else {
            self.scratch.clear();
            let recent = self.lateness.len().saturating_sub(cover.window);
            self.scratch
                .extend(self.lateness.iter().skip(recent).copied());
            let last = self.scratch.len() - 1;
            let on_time = (last as f64 * cover.on_time).round() as usize;
            let unfrozen = (last as f64 * cover.unfrozen).round() as usize;
            let (_, &mut on_time_us, above) = self.scratch.select_nth_unstable(on_time);
            // The higher rank lies among those above (or is the same).
            let unfrozen_us = match unfrozen.checked_sub(on_time + 1) {
                Some(k) => *above.select_nth_unstable(k).1,
                None => on_time_us,
            };
            (on_time_us.max(unfrozen_us.saturating_sub(HITCH_US)) + MARGIN_US).min(cover.max_us)
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

    /// Gaps after the first 5 s longer than `limit`.
    fn gaps_over(gaps: &[u64], limit: u64) -> usize {
        gaps[5 * 30..].iter().filter(|&&g| g > limit).count()
    }

    #[test]
    fn nack_repairs_play_without_freezes_once_the_delay_has_grown() {
        // Smooth: after the first repairs taught it the lateness, no frame
        // shown more than 1.5 frame intervals after the previous one.
        let (gaps, s) = play(VideoDelay::Smooth, 30, repairs);
        assert_eq!(gaps_over(&gaps, FRAME * 3 / 2), 0, "{gaps:?}");
        assert!(
            (150 * MS..=200 * MS).contains(&s.delay_us()),
            "{}",
            s.delay_us()
        );
        // Balanced: repairs are a twelfth of the frames here, beyond the
        // 5 % it covers in full, so the repaired frame itself may come a
        // little late, but never as late as a hitch, and the delay is
        // lower.
        let (gaps, b) = play(VideoDelay::Balanced, 30, repairs);
        assert_eq!(gaps_over(&gaps, FRAME + HITCH_US), 0, "{gaps:?}");
        assert!(
            (50 * MS..s.delay_us()).contains(&b.delay_us()),
            "{}",
            b.delay_us()
        );
        // The same stream shown as soon as decoded freezes at every repair.
        let (gaps, _) = play(VideoDelay::Immediate, 30, repairs);
        let freezes = gaps[5 * 30..]
            .iter()
            .filter(|&&g| g > FRAME * 3 / 2)
            .count();
        assert_eq!(freezes, 12, "one per repair");
    }

    /// Lateness on a path with random loss and a short round trip: one
    /// frame in ten repaired after a NACK interval (40 ms), and every 3 s
    /// one after a lost retransmission too (200 ms); the frames behind a
    /// late one come in the same burst.
    fn random_loss(seed: u64, seconds: u64) -> impl Fn(u64) -> u64 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut late = Vec::new();
        let mut held = 0u64;
        for i in 0..seconds * 30 {
            let own = if i % 90 == 45 {
                200 * MS
            } else if rng.u32(0..10) == 0 {
                40 * MS
            } else {
                rng.u64(0..5 * MS)
            };
            held = own.max(held.saturating_sub(FRAME));
            late.push(held);
        }
        move |i| late[i as usize]
    }

    #[test]
    fn balanced_covers_the_common_repairs_and_keeps_the_rare_ones_from_freezing() {
        let (gaps, b) = play(VideoDelay::Balanced, 60, random_loss(5, 60));
        // The 40 ms repairs in full; the 200 ms ones to within a hitch.
        let want = 200 * MS - HITCH_US + MARGIN_US;
        assert!(
            (want - 5 * MS..=want + 5 * MS).contains(&b.delay_us()),
            "{}",
            b.delay_us()
        );
        assert_eq!(gaps_over(&gaps, FRAME + HITCH_US + 5 * MS), 0, "{gaps:?}");
        // Each 200 ms repair is seen as a hitch (18 in the last 55 s).
        let hitches = gaps_over(&gaps, 2 * FRAME);
        assert!((15..=20).contains(&hitches), "{hitches} hitches");
        // Smooth waits for all of them: no hitch, twice the delay.
        let (gaps, s) = play(VideoDelay::Smooth, 60, random_loss(5, 60));
        assert!(s.delay_us() >= 200 * MS, "{}", s.delay_us());
        assert_eq!(gaps_over(&gaps, FRAME * 3 / 2), 0);
    }

    #[test]
    fn a_keyframe_that_ends_a_freeze_does_not_raise_the_delay() {
        let mut s = RenderScheduler::new(VideoDelay::Balanced);
        let mut renders = Vec::new();
        for i in 0..20 * 30u64 {
            if i == 300 {
                // Frames 290..300 were lost; the keyframe that restarts
                // the picture took 450 ms to arrive, and four frames
                // queued behind it.
                s.resync();
            }
            if (290..300).contains(&i) {
                continue;
            }
            let held = match i {
                300..=304 => 450 * MS - (i - 300) * FRAME,
                _ => (i * 7919) % (5 * MS),
            };
            renders.push(s.on_frame(i * FRAME, i * FRAME + 20 * MS + held));
            assert!(s.delay_us() <= 20 * MS, "frame {i}: {}", s.delay_us());
        }
        // The same lateness without the resync is taken for the path's.
        let mut t = RenderScheduler::new(VideoDelay::Balanced);
        for i in 0..=304u64 {
            let held = if i >= 300 {
                450 * MS - (i - 300) * FRAME
            } else {
                0
            };
            t.on_frame(i * FRAME, i * FRAME + 20 * MS + held);
        }
        assert!(t.delay_us() >= 300 * MS, "{}", t.delay_us());
        // A resync that finds the frames on time ends at once: the next
        // late frames count again.
        s.resync();
        for i in 600..700u64 {
            let held = if i % 10 == 0 { 60 * MS } else { 0 };
            s.on_frame(i * FRAME, i * FRAME + 20 * MS + held);
        }
        assert!(s.delay_us() >= 60 * MS, "{}", s.delay_us());
    }

    #[test]
    fn with_lip_sync_the_delay_covers_keyframes_and_rare_repairs() {
        // The late keyframe of the test above raises the delay when lip
        // sync follows the picture: a steady delay rather than a low one.
        let mut s = RenderScheduler::new(VideoDelay::Balanced);
        s.follow_lip_sync();
        for i in 0..=304u64 {
            if i == 300 {
                s.resync();
            }
            let held = if i >= 300 {
                450 * MS - (i - 300) * FRAME
            } else {
                0
            };
            s.on_frame(i * FRAME, i * FRAME + 20 * MS + held);
        }
        assert_eq!(s.delay_us(), 400 * MS);
        // And the 200 ms repairs every 3 s in full: no hitch.
        let mut s = RenderScheduler::new(VideoDelay::Balanced);
        s.follow_lip_sync();
        let late = random_loss(5, 60);
        let mut renders = Vec::new();
        for i in 0..60 * 30u64 {
            let rtp = 1_000_000 + i * FRAME;
            renders.push(s.on_frame(rtp, 5_000_000 + i * FRAME + 20 * MS + late(i)));
        }
        let gaps: Vec<u64> = renders.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps_over(&gaps, FRAME * 3 / 2), 0, "{gaps:?}");
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
            if i >= 20 * 30 {
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
