//! Lip sync: how much extra delay a remote's audio or video gets so that
//! speech and the lips that speak it are shown together.
//!
//! Audio and video reach the screen and the speaker after different
//! delays: the audio jitter buffer holds a few tens of milliseconds, while
//! the video receiver may hold frames for hundreds (NACK repairs under
//! loss, `VideoDelay::Balanced`). Both delays are measured from the
//! sender's capture clock (its sender reports map both streams' RTP times
//! onto one wall clock), so their difference is how far the audio plays
//! ahead of the picture.
//!
//! People notice audio ahead of the picture from about 45 ms, and audio
//! behind it only from about 125 ms (ITU-R BT.1359), as sound travels
//! slower than light. So:
//! - audio more than [`LEAD_TOLERANCE_US`] ahead is delayed (or the video
//!   delay sync added earlier is taken back) until the two meet;
//! - audio more than [`LAG_TOLERANCE_US`] behind gets the video delayed,
//!   where the video may be delayed at all;
//! - a delay added for sync is taken back as soon as the other stream no
//!   longer needs it, so the call is never later than sync requires.
//!
//! Each step moves half the distance, at most [`MAX_STEP_US`], every
//! [`UPDATE_US`], and only when two updates in a row saw the streams
//! apart the same way (the smaller distance of the two counts), so a
//! passing spike — the call's first frames shown late — moves nothing.
//! The audio jitter buffer makes a step a frame at a time in pauses of
//! speech; the caller counts steps still waiting for a pause into the
//! audio's delay, so that they are not asked for again. Without a fresh
//! measurement of both streams (the peer stopped its video), added delay
//! is taken back at the same pace.
//!
//! Pure decision code: measured delays and `now` in, extra delays out.

/// How often the delays are compared.
pub const UPDATE_US: u64 = 500_000;
/// Audio up to this far ahead of its picture is left alone.
pub const LEAD_TOLERANCE_US: i64 = 20_000;
/// Audio up to this far behind its picture is left alone.
pub const LAG_TOLERANCE_US: i64 = 80_000;
/// Added delay is taken back once the stream it was added to is this far
/// behind the other (a dead band, so that the two do not trade the delay
/// back and forth).
const RELEASE_US: i64 = 10_000;
/// The most an update changes either delay.
pub const MAX_STEP_US: u64 = 80_000;

/// The extra delays sync asks for, microseconds.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SyncDelays {
    /// Added to the audio's playout delay.
    pub audio_us: u64,
    /// Added to the video's render delay.
    pub video_us: u64,
}

/// See the module docs.
#[derive(Debug)]
pub struct LipSync {
    delays: SyncDelays,
    max: SyncDelays,
    next_update_us: Option<u64>,
    /// The last offset compared: how far audio played ahead of video.
    offset_us: Option<i64>,
}

/// The smaller of two offsets that agree in sign, else 0.
fn agreed(a: i64, b: i64) -> i64 {
    if a.signum() == b.signum() {
        a.signum() * a.abs().min(b.abs())
    } else {
        0
    }
}

impl LipSync {
    /// `max`: the most delay sync may add to each stream (zero for video
    /// shown as soon as it is decoded).
    pub fn new(max: SyncDelays) -> Self {
        LipSync {
            delays: SyncDelays::default(),
            max,
            next_update_us: None,
            offset_us: None,
        }
    }

    /// The most audio delay that can be added now (what the audio buffer
    /// has room for); a larger delay already asked for is cut to it.
    pub fn set_max_audio_us(&mut self, us: u64) {
        self.max.audio_us = us;
        self.delays.audio_us = self.delays.audio_us.min(us);
    }

    /// The extra delays asked for now.
    pub fn delays(&self) -> SyncDelays {
        self.delays
    }

    /// How far the audio played ahead of its video at the last update
    /// (negative: behind); `None` until both streams were measured.
    pub fn offset_us(&self) -> Option<i64> {
        self.offset_us
    }

    /// The delays from capture to playout measured now, sync's additions
    /// included: `audio_us` to the speaker, `video_us` to the screen;
    /// `None` for a stream not playing. Returns the extra delays to apply.
    pub fn update(
        &mut self,
        now_us: u64,
        audio_us: Option<u64>,
        video_us: Option<u64>,
    ) -> SyncDelays {
        if self.next_update_us.is_some_and(|at| now_us < at) {
            return self.delays;
        }
        self.next_update_us = Some(now_us + UPDATE_US);
        let d = &mut self.delays;
        let (Some(audio), Some(video)) = (audio_us, video_us) else {
            self.offset_us = None;
            d.audio_us = d.audio_us.saturating_sub(MAX_STEP_US);
            d.video_us = d.video_us.saturating_sub(MAX_STEP_US);
            return self.delays;
        };
        let measured = video as i64 - audio as i64;
        let offset = agreed(measured, self.offset_us.unwrap_or(0));
        self.offset_us = Some(measured);
        let step = (offset.unsigned_abs() / 2).clamp(1, MAX_STEP_US);
        if offset > 0 {
            // Audio ahead: first take back delay added to the video.
            if d.video_us > 0 {
                if offset > RELEASE_US {
                    d.video_us = d.video_us.saturating_sub(step);
                }
            } else if offset > LEAD_TOLERANCE_US || (d.audio_us > 0 && offset > RELEASE_US) {
                d.audio_us = (d.audio_us + step).min(self.max.audio_us);
            }
        } else if d.audio_us > 0 {
            // Audio behind: first take back delay added to the audio.
            if -offset > RELEASE_US {
                d.audio_us = d.audio_us.saturating_sub(step);
            }
        } else if -offset > LAG_TOLERANCE_US || (d.video_us > 0 && -offset > RELEASE_US) {
            d.video_us = (d.video_us + step).min(self.max.video_us);
        }
        self.delays
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000;
    const MAX: SyncDelays = SyncDelays {
        audio_us: 440 * MS,
        video_us: 300 * MS,
    };

    /// Runs sync against streams whose natural delays are `audio` and
    /// `video` (ms) and which follow the delays asked for at once, for
    /// `seconds`, asking ten times a second; returns the offset each
    /// update (every 500 ms) saw.
    fn run(
        sync: &mut LipSync,
        from_s: u64,
        seconds: u64,
        audio: u64,
        video: Option<u64>,
    ) -> Vec<i64> {
        let mut seen = Vec::new();
        let mut now = from_s * 1_000_000;
        while now < (from_s + seconds) * 1_000_000 {
            let d = sync.delays();
            sync.update(
                now,
                Some(audio * MS + d.audio_us),
                video.map(|v| v * MS + d.video_us),
            );
            if now.is_multiple_of(UPDATE_US) {
                seen.extend(sync.offset_us());
            }
            now += 100 * MS;
        }
        seen
    }

    #[test]
    fn audio_far_ahead_of_a_delayed_picture_is_delayed_until_they_meet() {
        let mut sync = LipSync::new(MAX);
        // Audio plays 60 ms after capture, the picture 400 ms (Balanced,
        // under loss): audio is 340 ms ahead.
        let seen = run(&mut sync, 0, 6, 60, Some(400));
        assert_eq!(seen[0], 340_000);
        // The first update only measures; then steps of at most 80 ms,
        // every 500 ms, then half the rest.
        assert_eq!(seen[1], 340_000);
        assert!(seen.windows(2).all(|w| w[0] - w[1] <= MAX_STEP_US as i64));
        let last = *seen.last().unwrap();
        assert!((0..=LEAD_TOLERANCE_US).contains(&last), "{last}");
        let d = sync.delays();
        assert!((320 * MS..=340 * MS).contains(&d.audio_us), "{d:?}");
        assert_eq!(d.video_us, 0);
        // Within 3 s it is inside what people notice (45 ms).
        assert!(seen[6] <= 45_000, "{seen:?}");
    }

    #[test]
    fn a_small_natural_offset_is_left_alone() {
        let mut sync = LipSync::new(MAX);
        // Clean link: the picture 27 ms after capture, audio 60 ms: audio
        // 33 ms behind, which nobody notices. Audio 15 ms ahead likewise.
        run(&mut sync, 0, 5, 60, Some(27));
        assert_eq!(sync.delays(), SyncDelays::default());
        run(&mut sync, 5, 5, 60, Some(75));
        assert_eq!(sync.delays(), SyncDelays::default());
    }

    #[test]
    fn delay_added_to_audio_is_taken_back_when_the_picture_catches_up() {
        let mut sync = LipSync::new(MAX);
        run(&mut sync, 0, 6, 60, Some(400));
        assert!(sync.delays().audio_us > 300 * MS);
        // The loss ends and the render delay falls back to 30 ms: the
        // audio now plays 300 ms late, and its extra delay goes, with no
        // video delay added in its place.
        let seen = run(&mut sync, 6, 8, 60, Some(30));
        assert!(seen[0] < -300_000, "{seen:?}");
        assert_eq!(sync.delays().video_us, 0);
        assert!(
            sync.delays().audio_us <= RELEASE_US as u64 * 2,
            "{:?}",
            sync.delays()
        );
        assert!(seen.last().unwrap().abs() <= 45_000);
    }

    #[test]
    fn audio_far_behind_delays_the_video_only_where_it_may_be() {
        // A deep audio buffer (jitter): audio 250 ms, picture 40 ms.
        let mut sync = LipSync::new(MAX);
        let seen = run(&mut sync, 0, 6, 250, Some(40));
        let last = *seen.last().unwrap();
        assert!((-LAG_TOLERANCE_US..=0).contains(&last), "{seen:?}");
        assert!(sync.delays().video_us >= 130 * MS);
        assert_eq!(sync.delays().audio_us, 0);
        // Video shown as soon as it is decoded never gets a delay.
        let mut immediate = LipSync::new(SyncDelays {
            audio_us: MAX.audio_us,
            video_us: 0,
        });
        run(&mut immediate, 0, 6, 250, Some(40));
        assert_eq!(immediate.delays(), SyncDelays::default());
    }

    #[test]
    fn added_delay_is_bounded_and_released_when_a_stream_stops() {
        let mut sync = LipSync::new(MAX);
        // The picture 900 ms late (Smooth): audio gets at most its bound.
        run(&mut sync, 0, 10, 60, Some(900));
        assert_eq!(sync.delays().audio_us, MAX.audio_us);
        // The peer turns its video off: the delay goes, 80 ms per update.
        let seen = run(&mut sync, 10, 3, 60, None);
        assert!(seen.is_empty());
        assert_eq!(sync.offset_us(), None);
        assert_eq!(sync.delays(), SyncDelays::default());
    }

    #[test]
    fn the_audio_delay_follows_the_room_the_buffer_has() {
        let mut sync = LipSync::new(MAX);
        run(&mut sync, 0, 10, 60, Some(900));
        // The link needs a deeper buffer: less room is left for sync.
        sync.set_max_audio_us(200 * MS);
        assert_eq!(sync.delays().audio_us, 200 * MS);
        run(&mut sync, 10, 2, 60, Some(900));
        assert_eq!(sync.delays().audio_us, 200 * MS);
    }

    #[test]
    fn updates_come_every_half_second_whatever_the_call_rate() {
        let mut sync = LipSync::new(MAX);
        let far = |sync: &mut LipSync, t: u64| sync.update(t * MS, Some(60 * MS), Some(400 * MS));
        // The first update only measures.
        assert_eq!(far(&mut sync, 0).audio_us, 0);
        let first = far(&mut sync, 500);
        assert_eq!(first.audio_us, MAX_STEP_US);
        // Asked again within 500 ms: the same answer, nothing measured.
        for t in [501, 600, 999] {
            assert_eq!(far(&mut sync, t), first);
        }
        assert_eq!(far(&mut sync, 1000).audio_us, 2 * MAX_STEP_US);
    }

    #[test]
    fn a_passing_spike_moves_nothing() {
        let mut sync = LipSync::new(MAX);
        run(&mut sync, 0, 3, 60, Some(50));
        // The picture is late for one update only.
        sync.update(3_000 * MS, Some(60 * MS), Some(1_500 * MS));
        run(&mut sync, 3, 3, 60, Some(50));
        assert_eq!(sync.delays(), SyncDelays::default());
    }
}
