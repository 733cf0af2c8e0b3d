//! The video resolution and frame-rate ladder: which size and frame rate
//! the encoder runs at for the bitrate the rate controller allows. A
//! 720p encoder squeezed into 300 kbit/s drops to a few frames per second
//! of mush; stepping down to a size the bitrate can carry keeps the motion.
//! Driven by the target bitrate, never by loss (random loss on a link with
//! spare capacity is NACK's job), with hysteresis: down after the target
//! has been short for a second, up only after it has had room for the next
//! rung for five seconds. Each change costs an IDR of the new size, several
//! P-frames' worth, so a short dip of the target (the pacer's estimate
//! dipping for a fraction of a second, a capacity drop whose queue is still
//! draining) is no reason to step down: the IDR would land in the dip. Only
//! before the rung's first frame does a short target move it at once (a
//! call that starts on a narrow path).
//!
//! What a rung needs is a nominal figure ([`BITS_PER_PIXEL`]); a simple
//! picture (a talking head on a still background) needs less. The encoder
//! tells: a second in which it sent well under its target
//! ([`UNCONSTRAINED`]; IDRs left out) shows what the picture needs at this
//! rung, and the rung is held down to that ([`VideoLadder::on_encoded`]). The measure
//! is kept for [`MEASURE_AGE_US`] (a picture that gets busier is seen when
//! the encoder uses more) and only for the rung it was made at: steps up
//! still need the nominal figure's room.
//!
//! Rungs: the input's size, then 540p, 360p, 270p and 180p below it (the
//! short side; the same aspect ratio, so portrait works alike), all at the
//! configured frame rate, and last the smallest size at half the frame
//! rate.

/// The short sides of the rungs below the input's.
const HEIGHTS: [u32; 4] = [540, 360, 270, 180];
/// Bits a rung needs per pixel and frame to look right.
const BITS_PER_PIXEL: f64 = 0.05;
/// Down when the target is below this share of the rung's need ...
const DOWN_MARGIN: f64 = 0.8;
/// ... for this long (at once before the rung's first frame).
const DOWN_HOLD_US: u64 = 1_000_000;
/// Up when the target exceeds the next rung's need by this factor ...
const UP_MARGIN: f64 = 1.3;
/// ... for this long (and as long since the last change).
const UP_HOLD_US: u64 = 5_000_000;
/// The encoder's output is read over windows this long.
const WINDOW_US: u64 = 1_000_000;
/// Output below this share of the target: the encoder was not held back,
/// and its output is what the picture needs at this rung.
const UNCONSTRAINED: f64 = 0.8;
/// The least share of the nominal need a measure lowers it to.
const MIN_MEASURED_SHARE: f64 = 0.5;
/// A measure holds this long after the window that made it.
const MEASURE_AGE_US: u64 = 10_000_000;

/// One step of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rung {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

impl Rung {
    /// The bitrate this rung needs.
    pub fn needed_bps(&self) -> u32 {
        (self.width as f64 * self.height as f64 * self.fps as f64 * BITS_PER_PIXEL) as u32
    }

    /// The short side ("360" of 640x360 and of 360x640).
    pub fn short_side(&self) -> u32 {
        self.width.min(self.height)
    }
}

fn even(x: f64) -> u32 {
    ((x / 2.0).round() as u32 * 2).max(2)
}

/// See the module docs.
#[derive(Debug)]
pub struct VideoLadder {
    fps: u32,
    input: (u32, u32),
    rungs: Vec<Rung>,
    index: usize,
    /// Since when the target has been short of the current rung.
    short_since: Option<u64>,
    /// Since when the target has had room for the rung above.
    room_since: Option<u64>,
    last_change_us: u64,
    /// The encoder's output since the window started at this rung.
    window: Option<Window>,
    /// What the picture needs at this rung, as a share of the nominal
    /// need (1 until measured), and until when that measure holds (0:
    /// none). Plain values rather than an `Option` of a tuple: the
    /// encoding thread reads them for every frame, and memory checkers
    /// flag the optimized branch on an empty option's unset payload.
    measured_share: f64,
    measured_until_us: u64,
}

/// The encoder's output over one window.
#[derive(Debug, Clone, Copy)]
struct Window {
    start_us: u64,
    bytes: u64,
    /// The least target in force while it was made.
    least_target_bps: u32,
}

impl VideoLadder {
    /// A ladder for frames of `width` x `height` at `fps`, at its top.
    pub fn new(width: u32, height: u32, fps: u32) -> Self {
        let mut l = VideoLadder {
            fps: fps.max(1),
            input: (0, 0),
            rungs: Vec::new(),
            index: 0,
            short_since: None,
            room_since: None,
            last_change_us: 0,
            window: None,
            measured_share: 1.0,
            measured_until_us: 0,
        };
        l.set_input(width, height);
        l
    }

    /// The input's size changed (a host pushing another size): the ladder
    /// is rebuilt below it; at the top it stays at the top, stepped down it
    /// keeps (at most) the short side it had.
    pub fn set_input(&mut self, width: u32, height: u32) {
        if (width, height) == self.input || width == 0 || height == 0 {
            return;
        }
        let keep = self
            .rungs
            .get(self.index)
            .copied()
            .filter(|_| self.index > 0);
        self.input = (width, height);
        let short = width.min(height);
        let mut rungs = vec![Rung {
            width,
            height,
            fps: self.fps,
        }];
        for side in HEIGHTS.into_iter().filter(|&s| s < short) {
            let scale = side as f64 / short as f64;
            rungs.push(Rung {
                width: even(width as f64 * scale),
                height: even(height as f64 * scale),
                fps: self.fps,
            });
        }
        if self.fps >= 10 {
            let last = *rungs.last().expect("at least the input");
            rungs.push(Rung {
                fps: self.fps / 2,
                ..last
            });
        }
        self.index = keep
            .and_then(|k| {
                rungs
                    .iter()
                    .position(|r| r.short_side() <= k.short_side() && r.fps <= k.fps)
            })
            .unwrap_or(0);
        self.rungs = rungs;
        self.forget_measure();
    }

    /// Every rung, top first.
    pub fn rungs(&self) -> &[Rung] {
        &self.rungs
    }

    /// The rung to encode at now.
    pub fn rung(&self) -> Rung {
        self.rungs[self.index]
    }

    /// A frame the encoder made at the current rung at `now_us` (`bytes`
    /// long, an IDR or not) while its target was `target_bps`.
    pub fn on_encoded(&mut self, now_us: u64, bytes: usize, keyframe: bool, target_bps: u32) {
        let fresh = Window {
            start_us: now_us,
            bytes: 0,
            least_target_bps: target_bps,
        };
        let w = self.window.get_or_insert(fresh);
        let elapsed = now_us.saturating_sub(w.start_us);
        if elapsed >= WINDOW_US {
            let closed = std::mem::replace(w, fresh);
            let sent_bps = closed.bytes as f64 * 8.0 * 1e6 / elapsed as f64;
            let share = (sent_bps / self.rung().needed_bps() as f64).clamp(MIN_MEASURED_SHARE, 1.0);
            if sent_bps < closed.least_target_bps as f64 * UNCONSTRAINED {
                self.measured_share = share;
                self.measured_until_us = now_us + MEASURE_AGE_US;
            } else if now_us < self.measured_until_us {
                // Held back: the picture needs at least what it used.
                self.measured_share = self.measured_share.max(share);
            }
        }
        let w = self.window.as_mut().expect("just set");
        // An IDR (the rung's first frame, or one a receiver asked for) is
        // no part of what the picture needs from frame to frame.
        if !keyframe {
            w.bytes += bytes as u64;
        }
        w.least_target_bps = w.least_target_bps.min(target_bps);
    }

    /// What the current rung needs at `now_us`: the nominal figure, or
    /// less where the encoder showed the picture needs less.
    fn need_now(&self, now_us: u64) -> f64 {
        let share = if now_us < self.measured_until_us {
            self.measured_share
        } else {
            1.0
        };
        self.rung().needed_bps() as f64 * share
    }

    fn forget_measure(&mut self) {
        self.window = None;
        self.measured_share = 1.0;
        self.measured_until_us = 0;
    }

    /// The target that would step up to the next rung (none at the top).
    pub fn step_up_bps(&self) -> Option<u32> {
        let up = self.rungs.get(self.index.checked_sub(1)?)?;
        Some((up.needed_bps() as f64 * UP_MARGIN) as u32)
    }

    /// The encoder's target bitrate at `now_us`; returns the new rung when
    /// it changes.
    pub fn update(&mut self, now_us: u64, target_bps: u32) -> Option<Rung> {
        let target = target_bps as f64;
        let need = self.need_now(now_us);
        if self.index + 1 < self.rungs.len() && target < need * DOWN_MARGIN {
            self.room_since = None;
            let since = *self.short_since.get_or_insert(now_us);
            let unencoded = self.window.is_none();
            if unencoded || now_us.saturating_sub(since) >= DOWN_HOLD_US {
                // The highest rung the target carries (at least one down).
                let fits = (self.index + 1..self.rungs.len())
                    .find(|&i| target >= self.rungs[i].needed_bps() as f64 * DOWN_MARGIN)
                    .unwrap_or(self.rungs.len() - 1);
                return Some(self.change(now_us, fits));
            }
            return None;
        }
        self.short_since = None;
        if self.index > 0 && target > self.rungs[self.index - 1].needed_bps() as f64 * UP_MARGIN {
            let since = *self.room_since.get_or_insert(now_us);
            if now_us.saturating_sub(since) >= UP_HOLD_US
                && now_us.saturating_sub(self.last_change_us) >= UP_HOLD_US
            {
                return Some(self.change(now_us, self.index - 1));
            }
        } else {
            self.room_since = None;
        }
        None
    }

    fn change(&mut self, now_us: u64, index: usize) -> Rung {
        self.index = index;
        self.last_change_us = now_us;
        self.short_since = None;
        self.room_since = None;
        self.forget_measure();
        self.rung()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000;
    const S: u64 = 1_000_000;

    /// Feeds `target` every 100 ms from `from` to `to`; the rungs it went
    /// through, with when.
    fn run(
        l: &mut VideoLadder,
        from: u64,
        to: u64,
        target: impl Fn(u64) -> u32,
    ) -> Vec<(u64, Rung)> {
        (from / (100 * MS)..to / (100 * MS))
            .filter_map(|i| {
                let t = i * 100 * MS;
                l.update(t, target(t)).map(|r| (t, r))
            })
            .collect()
    }

    #[test]
    fn the_rungs_of_720p30() {
        let l = VideoLadder::new(1280, 720, 30);
        let sizes: Vec<_> = l
            .rungs()
            .iter()
            .map(|r| (r.width, r.height, r.fps))
            .collect();
        assert_eq!(
            sizes,
            vec![
                (1280, 720, 30),
                (960, 540, 30),
                (640, 360, 30),
                (480, 270, 30),
                (320, 180, 30),
                (320, 180, 15)
            ]
        );
        assert_eq!(l.rungs()[0].needed_bps(), 1_382_400);
    }

    #[test]
    fn a_capacity_drop_steps_down_within_a_second_and_comes_back_slowly() {
        let mut l = VideoLadder::new(1280, 720, 30);
        // 2 Mbit/s, then 500 kbit/s from 10 s, then 2 Mbit/s from 30 s.
        let target = |t: u64| {
            if (10 * S..30 * S).contains(&t) {
                430_000
            } else {
                1_800_000
            }
        };
        let changes = run(&mut l, 0, 60 * S, target);
        eprintln!("{changes:?}");
        let (t, down) = changes[0];
        assert_eq!(
            (down.width, down.height),
            (640, 360),
            "the rung 430 kbit/s carries"
        );
        assert!(t - 10 * S <= S, "down after {} ms", (t - 10 * S) / MS);
        // Back up one rung at a time, each after 5 s of room.
        let ups: Vec<_> = changes[1..]
            .iter()
            .map(|(t, r)| (*t / S, r.height))
            .collect();
        assert_eq!(ups, vec![(35, 540), (40, 720)]);
    }

    #[test]
    fn before_its_first_frame_a_rung_steps_down_at_once() {
        let mut l = VideoLadder::new(1280, 720, 30);
        assert_eq!(l.update(0, 2_000_000), None);
        let r = l.update(100 * MS, 150_000).expect("at once");
        assert_eq!((r.height, r.fps), (180, 30));
        let r = l.update(200 * MS, 30_000).expect("at once");
        assert_eq!((r.height, r.fps), (180, 15), "the bottom");
        assert_eq!(l.update(300 * MS, 10_000), None, "nothing below the bottom");
    }

    #[test]
    fn a_dip_shorter_than_the_hold_keeps_the_rung() {
        // 720p encoding; the target falls to a tenth for 0.9 s.
        let mut l = VideoLadder::new(1280, 720, 30);
        let dip = |t: u64| {
            if (3 * S..3 * S + 900 * MS).contains(&t) {
                150_000
            } else {
                2_000_000
            }
        };
        assert_eq!(encode(&mut l, 0, 10 * S, 3_000_000, dip), vec![]);
        // A second short: down, straight to the rung it carries.
        let (t, r) = encode(&mut l, 10 * S, 12 * S, 3_000_000, |_| 150_000)[0];
        assert_eq!((r.height, r.fps), (180, 30));
        assert!(
            (11 * S..11 * S + 50 * MS).contains(&t),
            "after the hold: {t}"
        );
    }

    #[test]
    fn a_target_wobbling_around_a_threshold_does_not_flap() {
        let mut l = VideoLadder::new(640, 360, 30);
        let need = l.rung().needed_bps() as f64;
        let mut rng = fastrand::Rng::with_seed(4);
        // ±25 % around 85 % of 360p's need for a minute.
        let targets: Vec<u32> = (0..600)
            .map(|_| (need * 0.85 * (0.75 + rng.f64() * 0.5)) as u32)
            .collect();
        let changes = run(&mut l, 0, 60 * S, |t| targets[(t / (100 * MS)) as usize]);
        assert!(changes.len() <= 3, "{changes:?}");
    }

    /// 30 fps for `from`..`to`: the encoder sends what the picture needs
    /// (`need`) or its target if that is less; the ladder sees each frame
    /// and the target. Returns the rungs it went through, with when.
    fn encode(
        l: &mut VideoLadder,
        from: u64,
        to: u64,
        need: u32,
        target: impl Fn(u64) -> u32,
    ) -> Vec<(u64, Rung)> {
        let frame_us = S / 30;
        let mut changes = Vec::new();
        let mut t = from;
        while t < to {
            let target = target(t);
            if let Some(r) = l.update(t, target) {
                changes.push((t, r));
            }
            let sent = need.min(target);
            l.on_encoded(t, (sent / 8 / 30) as usize, false, target);
            t += frame_us;
        }
        changes
    }

    #[test]
    fn a_simple_picture_keeps_its_rung_on_less_than_the_nominal_need() {
        // 720p's nominal need is 1.38 Mbit/s; this picture needs 1.1.
        let nominal = VideoLadder::new(1280, 720, 30).rung().needed_bps();
        let mut l = VideoLadder::new(1280, 720, 30);
        let target = |t: u64| if t < 3 * S { 2_300_000 } else { 950_000 };
        let changes = encode(&mut l, 0, 12 * S, 1_100_000, target);
        assert_eq!(changes, vec![], "950 kbit/s carries this picture at 720p");
        assert!(950_000 < (nominal as f64 * DOWN_MARGIN) as u32);
        // Short of even this picture's need: down after the hold.
        let (_, r) = encode(&mut l, 12 * S, 14 * S, 1_100_000, |_| 500_000)[0];
        assert_eq!(r.height, 360);

        // Without the encoder's word, the nominal need steps it down.
        let mut blind = VideoLadder::new(1280, 720, 30);
        let changes = run(&mut blind, 0, 12 * S, target);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].1.height, 540);
        assert!(changes[0].0 <= 4 * S + 100 * MS, "{changes:?}");
    }

    #[test]
    fn a_picture_that_uses_its_whole_target_gets_the_nominal_need() {
        // A busy picture: the encoder uses all it is given.
        let mut l = VideoLadder::new(1280, 720, 30);
        let changes = encode(&mut l, 0, 6 * S, 3_000_000, |t| {
            if t < 3 * S {
                2_300_000
            } else {
                950_000
            }
        });
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].1.height, 540);
    }

    #[test]
    fn a_measure_ages_out_and_a_busier_picture_raises_it() {
        let mut l = VideoLadder::new(1280, 720, 30);
        encode(&mut l, 0, 3 * S, 800_000, |_| 2_300_000);
        // Held at 950 kbit/s: the encoder uses all of it, which is more
        // than the picture needed before (the picture got busier).
        let changes = encode(&mut l, 3 * S, 6 * S, 1_500_000, |_| 950_000);
        assert_eq!(changes, vec![], "950 kbit/s used is within the need");
        let share = l.measured_share;
        assert!(share > 0.65, "raised to what was used: {share}");
        // Ten seconds after the last window the encoder was not held back
        // in, the nominal need is back, and the rung steps down.
        let changes = encode(&mut l, 6 * S, 20 * S, 1_500_000, |_| 950_000);
        assert_eq!(changes.len(), 1, "{changes:?}");
        let (t, r) = changes[0];
        assert_eq!(r.height, 540);
        assert!((13 * S..=15 * S).contains(&t), "at {} ms", t / MS);
    }

    #[test]
    fn idrs_are_not_the_pictures_need() {
        let mut l = VideoLadder::new(1280, 720, 30);
        // An IDR of 100 kB a second, P-frames of 3.5 kB (840 kbit/s).
        for i in 0..90 {
            let t = i * S / 30;
            l.update(t, 2_300_000);
            let (bytes, idr) = if i % 30 == 0 {
                (100_000, true)
            } else {
                (3_500, false)
            };
            l.on_encoded(t, bytes, idr, 2_300_000);
        }
        assert!(l.measured_until_us > 0, "measured");
        let share = l.measured_share;
        let need = share * l.rung().needed_bps() as f64;
        assert!((780_000.0..=850_000.0).contains(&need), "{need}");
    }

    #[test]
    fn a_new_input_size_keeps_the_short_side_it_had() {
        let mut l = VideoLadder::new(320, 180, 30);
        // At the top, a larger input is encoded at its size.
        l.set_input(1280, 720);
        assert_eq!(l.rung(), l.rungs()[0]);
        assert_eq!(l.rung().height, 720);
        l.update(0, 300_000).unwrap();
        assert_eq!(l.rung().height, 360);
        // The host rotates the phone: 720x1280 portrait.
        l.set_input(720, 1280);
        assert_eq!(
            l.rungs()[0],
            Rung {
                width: 720,
                height: 1280,
                fps: 30
            }
        );
        assert_eq!((l.rung().width, l.rung().height), (360, 640));
    }
}
