//! The audio jitter buffer: holds received Opus packets and decides, once per
//! 20 ms of playout, what the decoder does next: decode a packet, recover a
//! lost one from the in-band FEC of its successor, or conceal.
//!
//! How deep it runs adapts, as NetEq's does, to what the link and the
//! playout device actually do:
//! - it starts playing with the first packet (`min_frames`);
//! - when it runs dry it *expands* — plays concealment without moving its
//!   timeline on — so a packet that is only delayed still plays when it
//!   comes (the delay it cost stays in the buffer as depth) and a playout
//!   device that suddenly takes a burst of audio (a speaker switch) does
//!   not turn every later packet into a late one;
//! - when packets resume after an expansion with a gap, it moves on to the
//!   first of them (what was skipped was lost, or is too old to play);
//! - its target depth is the larger of what the arrival jitter needs and a
//!   peak raised by each underrun and each late packet, which decays by a
//!   frame every 10 s of calm;
//! - below the target it plays frames a pitch period longer, and above
//!   it a pitch period shorter ([`stretch`]: up to 10 ms a frame, no gap
//!   and no concealment); far above it (a burst after a stall) it also
//!   drops a frame now and then to cut the delay back sooner;
//! - a sender whose clock runs slow ([`drift::ClockDrift`]) gets frames
//!   played longer at the rate its clock falls behind, before the buffer
//!   runs dry (a fast one fills the buffer, which the rule above plays
//!   shorter).
//!
//! Pure decision code: no clock, no threads. The caller passes arrival times
//! in and asks for the next [`Playout`] whenever the device needs audio.

pub mod drift;
pub mod stretch;
pub mod video;

use std::collections::BTreeMap;

/// Samples per 20 ms frame at 48 kHz.
pub const FRAME_SAMPLES: u64 = 960;
const FRAME_US: u64 = 20_000;
/// Frames beyond the target at which frames are dropped besides being
/// played shorter.
const FAR_TOO_DEEP: usize = 6;
/// Frames over which the held depth is smoothed for time-stretching.
const LEVEL_SMOOTHING: f64 = 16.0;
/// A lengthened frame gains about this much (a pitch period, 2.5-10 ms).
const STRETCH_US: f64 = 5_000.0;
/// Below this the sender's clock is taken as ours.
const DRIFT_MIN_PPM: f64 = 100.0;
/// Frames a lip-sync step waits for a quiet frame before it is made by
/// time-stretching instead (5 s of sound without a pause: speech pauses
/// every few seconds).
const SYNC_QUIET_WAIT: u32 = 250;

/// What the decoder should do for the next 20 ms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// Nothing to play yet (buffering before the first packet or after a
    /// long silence): the caller plays nothing.
    Idle,
    /// The next packet has not arrived and neither has any later one; the
    /// caller still has audio queued, so it should ask again shortly (the
    /// packet, or its successor carrying FEC, may still come).
    Wait,
    /// Decode this packet.
    Packet(Vec<u8>),
    /// The packet is lost, its successor is here: decode this (the
    /// successor) with FEC on to recover it.
    Fec(Vec<u8>),
    /// The packet is lost and cannot be recovered: run loss concealment.
    Conceal,
}

/// How the frame [`JitterBuffer::pop`] just returned as a packet should be
/// played, to move the buffer's depth towards its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stretch {
    /// As it is.
    Keep,
    /// A pitch period shorter (the buffer is deeper than it needs).
    Shorten,
    /// A pitch period longer (the buffer is shallower than it needs).
    Lengthen,
    /// Lip sync wants the audio a frame later: if this frame is quiet,
    /// play a frame of concealment after it and call
    /// [`JitterBuffer::sync_stepped`]; otherwise play it as it is.
    InsertIfQuiet,
    /// Lip sync wants the audio a frame earlier: if this frame is quiet,
    /// skip it and call [`JitterBuffer::sync_stepped`]; otherwise play it
    /// as it is.
    DropIfQuiet,
}

/// What happened to an inserted packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    Accepted,
    /// Its playout time has already passed.
    Late,
    Duplicate,
}

/// Counters the buffer keeps.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JitterStats {
    pub inserted: u64,
    pub late: u64,
    pub duplicate: u64,
    /// Packets decoded normally.
    pub played: u64,
    /// Lost packets rebuilt from FEC.
    pub fec_recovered: u64,
    /// Lost packets concealed.
    pub concealed: u64,
    /// Concealment because the buffer ran dry (no later packet either):
    /// frames inserted without consuming one (expansion).
    pub underruns: u64,
    /// Times playout moved on past a gap after running dry.
    pub skips: u64,
    /// Packets dropped to shrink a buffer that grew too deep.
    pub discarded: u64,
    /// Frames asked to be played shorter / longer.
    pub shortened: u64,
    pub lengthened: u64,
    /// Lip sync's whole-frame steps made in quiet frames: frames of
    /// concealment inserted, frames skipped.
    pub sync_inserted: u64,
    pub sync_dropped: u64,
}

/// Tunables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// Depth, in 20 ms frames, at which playout starts, and the smallest
    /// target depth.
    pub min_frames: usize,
    /// Largest depth; beyond it the oldest packets are dropped.
    pub max_frames: usize,
    /// Consecutive dry concealments after which playout stops and rebuffers.
    pub max_dry_conceal: u32,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            min_frames: 1,
            max_frames: 25,
            max_dry_conceal: 10,
        }
    }
}

/// See the module docs.
#[derive(Debug)]
pub struct JitterBuffer {
    config: JitterConfig,
    packets: BTreeMap<u64, Vec<u8>>,
    /// Frame index to play next, once playing.
    next: Option<u64>,
    dry: u32,
    /// Target depth raised by underruns and late packets, in frames.
    peak: usize,
    /// Frames played since `peak` last rose.
    calm: u32,
    /// Frames lip sync asks to hold on top of what the link needs (so
    /// that the audio plays in step with a later picture), and how many
    /// of them the target holds so far: the difference is made up a frame
    /// at a time in quiet frames.
    sync_frames: usize,
    sync_held: usize,
    /// Frames played while a lip-sync step waited for a quiet one.
    sync_wait: u32,
    /// RTP timestamp of the frame the last [`Self::pop`] returned as a
    /// packet.
    played: Option<u64>,
    /// Frames played since one was dropped to cut the delay.
    since_drop: u32,
    /// How the last packet popped should be played.
    stretch: Stretch,
    /// Packets held beyond the one playing, smoothed.
    level: f64,
    /// RFC 3550 interarrival jitter estimate, microseconds.
    jitter_us: f64,
    last_transit: Option<i64>,
    /// The sender's clock against ours, and the playout time its slowness
    /// has cost since the last frame played longer for it.
    drift: drift::ClockDrift,
    drift_owed_us: f64,
    stats: JitterStats,
}

impl JitterBuffer {
    pub fn new(config: JitterConfig) -> Self {
        JitterBuffer {
            config,
            packets: BTreeMap::new(),
            next: None,
            dry: 0,
            peak: 0,
            calm: 0,
            sync_frames: 0,
            sync_held: 0,
            sync_wait: 0,
            played: None,
            since_drop: 0,
            stretch: Stretch::Keep,
            level: 0.0,
            jitter_us: 0.0,
            last_transit: None,
            drift: drift::ClockDrift::default(),
            drift_owed_us: 0.0,
            stats: JitterStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Estimated interarrival jitter in microseconds.
    pub fn jitter_us(&self) -> u64 {
        self.jitter_us as u64
    }

    /// Frames currently buffered.
    pub fn depth(&self) -> usize {
        self.packets.len()
    }

    /// How to play the frame the last [`Self::pop`] returned as a packet.
    pub fn stretch(&self) -> Stretch {
        self.stretch
    }

    /// The depth playout aims for: the configured minimum, raised when the
    /// measured jitter needs more, or underruns and late packets showed
    /// that the buffer ran too shallow; plus what lip sync adds.
    pub fn target_frames(&self) -> usize {
        (self.link_target_frames() + self.sync_held).min(self.sync_ceiling())
    }

    /// The depth the link alone needs (see [`Self::target_frames`]).
    fn link_target_frames(&self) -> usize {
        let need = ((3.0 * self.jitter_us) / FRAME_US as f64).ceil() as usize + 1;
        need.max(self.peak)
            .clamp(self.config.min_frames, self.config.max_frames / 2)
    }

    /// The deepest target lip sync may ask for: two frames short of the
    /// buffer's size, so that its own growth is never trimmed.
    fn sync_ceiling(&self) -> usize {
        self.config.max_frames.saturating_sub(2).max(1)
    }

    /// The most delay lip sync can add now, microseconds: the room between
    /// what the link needs and [`Self::sync_ceiling`].
    pub fn max_extra_delay_us(&self) -> u64 {
        (self
            .sync_ceiling()
            .saturating_sub(self.link_target_frames()) as u64)
            * FRAME_US
    }

    /// Holds `us` more audio than the link needs (whole frames, rounded,
    /// within [`Self::max_extra_delay_us`]). Reached a frame at a time,
    /// in quiet frames ([`Stretch::InsertIfQuiet`], [`Stretch::DropIfQuiet`]),
    /// so that speech itself is not stretched; after 5 s without a quiet
    /// frame, by time-stretching as the depth's other changes are.
    pub fn set_extra_delay_us(&mut self, us: u64) {
        let room = self.max_extra_delay_us() / FRAME_US;
        self.sync_frames = (((us + FRAME_US / 2) / FRAME_US) as usize).min(room as usize);
    }

    /// Delay lip sync asked for that is not held yet (negative: still to
    /// be taken out), microseconds: it waits for a quiet frame.
    pub fn sync_pending_us(&self) -> i64 {
        (self.sync_frames as i64 - self.sync_held as i64) * FRAME_US as i64
    }

    /// The frame the last [`Self::pop`] asked for with
    /// [`Stretch::InsertIfQuiet`] or [`Stretch::DropIfQuiet`] was quiet,
    /// and the frame was inserted or skipped.
    pub fn sync_stepped(&mut self) {
        match self.stretch {
            // The depth follows by a frame as packets keep arriving; the
            // smoothed level is moved at once, so that the step is not
            // taken for a shortfall (or excess) to stretch away.
            Stretch::InsertIfQuiet => {
                self.sync_held += 1;
                self.level += 1.0;
                self.stats.sync_inserted += 1;
            }
            Stretch::DropIfQuiet => {
                self.sync_held = self.sync_held.saturating_sub(1);
                self.level -= 1.0;
                self.stats.sync_dropped += 1;
            }
            _ => return,
        }
        self.stretch = Stretch::Keep;
        self.sync_wait = 0;
    }

    /// RTP timestamp (48 kHz) of the frame the last [`Self::pop`] returned
    /// as a packet.
    pub fn played_timestamp(&self) -> Option<u64> {
        self.played
    }

    /// The buffer proved `by` frames too shallow.
    fn raise(&mut self, by: usize) {
        self.peak = (self.target_frames() + by).min(self.config.max_frames / 2);
        self.calm = 0;
    }

    /// Frames played without an underrun or late packet: every 10 s, the
    /// peak comes down a frame.
    fn settle(&mut self) {
        self.calm += 1;
        if self.calm >= 500 {
            self.calm = 0;
            self.peak = self.peak.saturating_sub(1);
        }
    }

    /// Adds a packet with RTP-style `timestamp` (48 kHz) that arrived at
    /// `arrival_us` (receiver clock).
    pub fn insert(&mut self, timestamp: u64, payload: Vec<u8>, arrival_us: u64) -> Insert {
        let index = timestamp / FRAME_SAMPLES;
        let transit = arrival_us as i64 - (timestamp * 1_000 / 48) as i64;
        if let Some(last) = self.last_transit {
            let d = (transit - last).unsigned_abs() as f64;
            self.jitter_us += (d - self.jitter_us) / 16.0;
        }
        self.last_transit = Some(transit);
        self.drift.observe(arrival_us, transit);

        if let Some(next) = self.next.filter(|&next| index < next) {
            self.stats.late += 1;
            self.raise((next - index).min(self.config.max_frames as u64) as usize);
            return Insert::Late;
        }
        if self.packets.contains_key(&index) {
            self.stats.duplicate += 1;
            return Insert::Duplicate;
        }
        self.packets.insert(index, payload);
        self.stats.inserted += 1;
        while self.packets.len() > self.config.max_frames {
            self.packets.pop_first();
            self.stats.discarded += 1;
            if let (Some(next), Some((&first, _))) = (self.next, self.packets.first_key_value()) {
                self.next = Some(next.max(first));
            }
        }
        Insert::Accepted
    }

    /// What to play for the next 20 ms. `may_wait` says the device still
    /// has enough queued that the decision can be put off when nothing has
    /// arrived yet.
    pub fn pop(&mut self, may_wait: bool) -> Playout {
        self.stretch = Stretch::Keep;
        let mut next = match self.next {
            Some(next) => next,
            None => {
                if self.packets.len() < self.config.min_frames {
                    return Playout::Idle;
                }
                let (&first, _) = self.packets.first_key_value().expect("non-empty");
                self.next = Some(first);
                first
            }
        };
        let Some((&first, _)) = self.packets.first_key_value() else {
            if may_wait {
                return Playout::Wait;
            }
            // Dry: expand (conceal without moving on), so that a packet
            // that is only late still plays.
            self.stats.concealed += 1;
            self.stats.underruns += 1;
            if self.dry == 0 {
                self.raise(1);
            }
            self.dry += 1;
            if self.dry >= self.config.max_dry_conceal {
                // A long silence: start again from whatever comes next.
                self.next = None;
                self.dry = 0;
            }
            return Playout::Conceal;
        };
        if std::mem::take(&mut self.dry) > 0 && first > next + 1 {
            // Resuming after an expansion: what lies before the first
            // packet here was lost, or is too old to be worth playing.
            self.stats.skips += 1;
            next = first;
        }
        self.next = Some(next + 1);
        if let Some(payload) = self.packets.remove(&next) {
            self.stats.played += 1;
            self.played = Some(next * FRAME_SAMPLES);
            self.settle();
            // Besides the frame playing, the buffer should hold what the
            // target asks for less one frame. A frame or more beyond that
            // adds latency: play shorter. Short of what underruns and late
            // packets showed it needs, play longer (the jitter estimate
            // alone does not deepen it: waiting for a packet while the
            // device still has 20 ms queued covers that much).
            // Both on the held depth smoothed over ~300 ms, so that
            // arrival jitter does not make frames alternate between the
            // two.
            let (held, target) = (self.packets.len(), self.target_frames());
            self.level += (held as f64 - self.level) / LEVEL_SMOOTHING;
            let proven = (self.peak.min(self.config.max_frames / 2) + self.sync_held)
                .min(self.sync_ceiling());
            self.stretch = if held > target && self.level > target as f64 + 0.5 {
                self.stats.shortened += 1;
                Stretch::Shorten
            } else if held + 1 < proven && self.level + 1.5 < proven as f64 {
                self.stats.lengthened += 1;
                Stretch::Lengthen
            } else if self.sync_frames != self.sync_held {
                // Lip sync's next step, in the next quiet frame; after
                // too long a wait, by stretching (the target takes it).
                self.sync_wait += 1;
                if self.sync_wait >= SYNC_QUIET_WAIT {
                    self.sync_held = self.sync_frames;
                    self.sync_wait = 0;
                    Stretch::Keep
                } else if self.sync_frames > self.sync_held {
                    Stretch::InsertIfQuiet
                } else {
                    Stretch::DropIfQuiet
                }
            } else {
                self.sync_wait = 0;
                Stretch::Keep
            };
            // A slow sender: each frame played costs its slowness; once
            // that adds up to a pitch period, play one longer.
            let slow = self.drift.slow_ppm();
            if slow < DRIFT_MIN_PPM || held > target {
                self.drift_owed_us = 0.0;
            } else {
                self.drift_owed_us += slow * FRAME_US as f64 / 1e6;
                if self.drift_owed_us >= STRETCH_US {
                    self.drift_owed_us -= STRETCH_US;
                    if self.stretch == Stretch::Keep {
                        self.stats.lengthened += 1;
                        self.stretch = Stretch::Lengthen;
                    }
                }
            }
            // Far too deep (a stall's backlog): also drop a frame, at most
            // one in ten.
            self.since_drop += 1;
            if held > target + FAR_TOO_DEEP && self.since_drop >= 10 {
                if let Some((first, _)) = self.packets.pop_first() {
                    self.stats.discarded += 1;
                    self.since_drop = 0;
                    self.next = Some(first + 1);
                }
            }
            return Playout::Packet(payload);
        }
        if let Some(successor) = self.packets.get(&(next + 1)) {
            self.stats.fec_recovered += 1;
            return Playout::Fec(successor.clone());
        }
        self.stats.concealed += 1;
        Playout::Conceal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(i: u64) -> u64 {
        i * FRAME_SAMPLES
    }

    fn filled(frames: &[u64]) -> JitterBuffer {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        for &i in frames {
            assert_eq!(
                jb.insert(ts(i), vec![i as u8], i * FRAME_US),
                Insert::Accepted
            );
        }
        jb
    }

    #[test]
    fn starts_with_the_first_packet() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        assert_eq!(jb.pop(false), Playout::Idle);
        jb.insert(ts(7), vec![7], 0);
        assert_eq!(jb.pop(false), Playout::Packet(vec![7]));
    }

    #[test]
    fn waits_for_the_configured_start_depth_then_plays_in_order() {
        let mut jb = JitterBuffer::new(JitterConfig {
            min_frames: 3,
            ..Default::default()
        });
        for i in 0..2 {
            jb.insert(ts(i), vec![i as u8], i * FRAME_US);
        }
        assert_eq!(jb.pop(false), Playout::Idle);
        jb.insert(ts(2), vec![2], 2 * FRAME_US);
        assert_eq!(jb.pop(false), Playout::Packet(vec![0]));
        assert_eq!(jb.pop(false), Playout::Packet(vec![1]));
        assert_eq!(jb.pop(false), Playout::Packet(vec![2]));
        assert_eq!(jb.stats().played, 3);
    }

    #[test]
    fn reordered_packets_play_in_timestamp_order() {
        let mut jb = filled(&[2, 0, 1]);
        let got: Vec<_> = (0..3).map(|_| jb.pop(false)).collect();
        assert_eq!(
            got,
            vec![
                Playout::Packet(vec![0]),
                Playout::Packet(vec![1]),
                Playout::Packet(vec![2])
            ]
        );
    }

    #[test]
    fn a_lost_packet_is_recovered_from_its_successor_by_fec() {
        let mut jb = filled(&[0, 2, 3]);
        assert_eq!(jb.pop(false), Playout::Packet(vec![0]));
        assert_eq!(jb.pop(false), Playout::Fec(vec![2]));
        assert_eq!(jb.pop(false), Playout::Packet(vec![2]));
        assert_eq!(jb.stats().fec_recovered, 1);
    }

    #[test]
    fn two_lost_in_a_row_conceal_then_recover() {
        let mut jb = filled(&[0, 3, 4]);
        assert_eq!(jb.pop(false), Playout::Packet(vec![0]));
        assert_eq!(jb.pop(false), Playout::Conceal);
        assert_eq!(jb.pop(false), Playout::Fec(vec![3]));
        assert_eq!(jb.pop(false), Playout::Packet(vec![3]));
        let s = jb.stats();
        assert_eq!((s.concealed, s.fec_recovered, s.underruns), (1, 1, 0));
    }

    #[test]
    fn waiting_lets_a_late_successor_rescue_a_loss_by_fec() {
        let mut jb = filled(&[0, 1, 2]);
        for i in 0..3 {
            assert_eq!(jb.pop(true), Playout::Packet(vec![i]));
        }
        // Frame 3 is lost, 4 has not arrived yet: wait instead of concealing.
        assert_eq!(jb.pop(true), Playout::Wait);
        jb.insert(ts(4), vec![4], 4 * FRAME_US);
        assert_eq!(jb.pop(true), Playout::Fec(vec![4]));
        assert_eq!(jb.pop(true), Playout::Packet(vec![4]));
        assert_eq!(jb.pop(true), Playout::Wait);
        assert_eq!(jb.pop(false), Playout::Conceal, "out of time: conceal");
        let s = jb.stats();
        assert_eq!((s.fec_recovered, s.concealed, s.underruns), (1, 1, 1));
    }

    #[test]
    fn late_and_duplicate_packets_are_counted_and_dropped() {
        let mut jb = filled(&[0, 1, 2]);
        assert_eq!(jb.insert(ts(2), vec![9], 0), Insert::Duplicate);
        jb.pop(false);
        jb.pop(false);
        assert_eq!(jb.insert(ts(0), vec![0], 0), Insert::Late);
        let s = jb.stats();
        assert_eq!((s.late, s.duplicate), (1, 1));
    }

    #[test]
    fn running_dry_conceals_then_rebuffers() {
        let mut jb = filled(&[0, 1, 2]);
        for _ in 0..3 {
            assert!(matches!(jb.pop(false), Playout::Packet(_)));
        }
        for _ in 0..JitterConfig::default().max_dry_conceal {
            assert_eq!(jb.pop(false), Playout::Conceal);
        }
        assert_eq!(
            jb.pop(false),
            Playout::Idle,
            "rebuffering after a long silence"
        );
        assert_eq!(jb.stats().underruns, 10);
    }

    #[test]
    fn a_deep_buffer_plays_frames_shorter_and_drops_only_far_above_its_target() {
        // A steady stream with five frames queued where one would do.
        let mut jb = filled(&(0..5).collect::<Vec<_>>());
        assert_eq!(jb.target_frames(), 1);
        let mut shortened_at = None;
        for i in 0..40u64 {
            jb.insert(ts(5 + i), vec![0], (5 + i) * FRAME_US);
            assert!(matches!(jb.pop(false), Playout::Packet(_)));
            if jb.stretch() == Stretch::Shorten {
                shortened_at.get_or_insert(i);
            }
        }
        // Once the smoothed depth shows it (a few frames), every frame is
        // played shorter; none is dropped.
        let at = shortened_at.expect("frames played shorter");
        assert!((2..=10).contains(&at), "first shortened frame {at}");
        assert_eq!(jb.stats().shortened, 40 - at);
        assert_eq!(jb.stats().discarded, 0);
        // Played as they are once the depth is back near the target.
        let mut jb = filled(&[0, 1]);
        jb.pop(false);
        assert_eq!(jb.stretch(), Stretch::Keep, "1 held");
        // A stall's backlog far above the target also drops frames, one
        // in ten played.
        let mut jb = filled(&(0..20).collect::<Vec<_>>());
        for _ in 0..10 {
            jb.pop(false);
        }
        assert_eq!(jb.stats().discarded, 1);
    }

    #[test]
    fn a_buffer_short_of_its_target_plays_frames_longer() {
        let mut jb = filled(&[0, 1]);
        assert_eq!(jb.pop(false), Playout::Packet(vec![0]));
        assert_eq!(jb.pop(false), Playout::Packet(vec![1]));
        // Ran dry: the target rises a frame, and the next frames are
        // played longer until the buffer holds what the target asks.
        assert_eq!(jb.pop(false), Playout::Conceal);
        assert_eq!(jb.target_frames(), 2);
        jb.insert(ts(2), vec![2], 2 * FRAME_US);
        assert_eq!(jb.pop(false), Playout::Packet(vec![2]));
        assert_eq!(jb.stretch(), Stretch::Lengthen, "nothing held, 1 wanted");
        jb.insert(ts(3), vec![3], 3 * FRAME_US);
        jb.insert(ts(4), vec![4], 4 * FRAME_US);
        assert_eq!(jb.pop(false), Playout::Packet(vec![3]));
        assert_eq!(jb.stretch(), Stretch::Keep, "1 held");
        // Concealment and FEC frames are never stretched.
        assert_eq!(jb.pop(false), Playout::Packet(vec![4]));
        jb.insert(ts(6), vec![6], 6 * FRAME_US);
        assert_eq!(jb.pop(false), Playout::Fec(vec![6]));
        assert_eq!(jb.stretch(), Stretch::Keep);
        assert_eq!(jb.stats().lengthened, 2);
    }

    #[test]
    fn depth_is_bounded() {
        let frames: Vec<u64> = (0..100).collect();
        let jb = filled(&frames);
        assert_eq!(jb.depth(), JitterConfig::default().max_frames);
        assert_eq!(jb.stats().discarded, 75);
    }

    #[test]
    fn jitter_raises_the_target_depth() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut rng = fastrand::Rng::with_seed(3);
        for i in 0..200u64 {
            let arrival = i * FRAME_US + rng.u64(0..60_000);
            jb.insert(ts(i), vec![0], arrival);
            if jb.depth() > 8 {
                jb.pop(false);
            }
        }
        assert!(jb.jitter_us() > 10_000, "jitter {}", jb.jitter_us());
        assert!(jb.target_frames() > JitterConfig::default().min_frames);
    }

    /// The engine's playout loop on a virtual clock: packets of 20 ms
    /// arrive from the network at `arrivals`' times; a device takes
    /// `period_us` of audio at a time from a ring, which the playout
    /// thread (waking every 5 ms) tops up to 40 ms, waiting for a missing
    /// packet while 20 ms are still queued.
    struct Playback {
        jb: JitterBuffer,
        ring_us: u64,
        /// What each pop gave, with the virtual time.
        log: Vec<(u64, Playout)>,
        /// (time, capture to playout) of every frame played from a packet:
        /// sent at its timestamp, heard once the ring ahead of it is.
        delays: Vec<(u64, u64)>,
    }

    impl Playback {
        fn new() -> Self {
            Playback {
                jb: JitterBuffer::new(JitterConfig::default()),
                ring_us: 0,
                log: Vec::new(),
                delays: Vec::new(),
            }
        }

        /// Runs from `from_us` to `to_us`, the device taking `period_us`
        /// at a time; `arrival(i)` says when packet i arrives (None: lost).
        fn run(
            &mut self,
            from_us: u64,
            to_us: u64,
            period_us: u64,
            arrival: &dyn Fn(u64) -> Option<u64>,
            sent: &mut u64,
        ) {
            let mut now = from_us;
            while now < to_us {
                while let Some(at) = (*sent * FRAME_US <= now + 1_000_000)
                    .then(|| arrival(*sent))
                    .flatten()
                    .filter(|&at| at <= now)
                    .or_else(|| (arrival(*sent).is_none() && *sent * FRAME_US <= now).then_some(0))
                {
                    if at > 0 || arrival(*sent).is_some() {
                        self.jb.insert(ts(*sent), vec![0], at);
                    }
                    *sent += 1;
                }
                if now.is_multiple_of(period_us) {
                    self.ring_us = self.ring_us.saturating_sub(period_us);
                }
                while self.ring_us < 40_000 {
                    let p = self.jb.pop(self.ring_us >= 20_000);
                    if matches!(p, Playout::Wait | Playout::Idle) {
                        break;
                    }
                    if let (Playout::Packet(_), Some(t)) = (&p, self.jb.played_timestamp()) {
                        let delay = (now + self.ring_us).saturating_sub(t * 1_000 / 48);
                        self.delays.push((now, delay));
                    }
                    // A stretched frame gains or loses a 5 ms pitch period;
                    // every frame counts as quiet for lip sync's steps.
                    self.ring_us += match (&p, self.jb.stretch()) {
                        (Playout::Packet(_), Stretch::Shorten) => FRAME_US - 5_000,
                        (Playout::Packet(_), Stretch::Lengthen) => FRAME_US + 5_000,
                        (Playout::Packet(_), Stretch::InsertIfQuiet) => {
                            self.jb.sync_stepped();
                            2 * FRAME_US
                        }
                        (Playout::Packet(_), Stretch::DropIfQuiet) => {
                            self.jb.sync_stepped();
                            0
                        }
                        _ => FRAME_US,
                    };
                    self.log.push((now, p));
                }
                now += 5_000;
            }
        }

        fn concealed_after(&self, t_us: u64) -> usize {
            self.log
                .iter()
                .filter(|(t, p)| *t >= t_us && *p == Playout::Conceal)
                .count()
        }
    }

    /// Network arrivals: 20 ms apart, 30 ms one-way, up to 4 ms of jitter.
    fn steady(i: u64) -> Option<u64> {
        let jitter = (i * 7919) % 4_000;
        Some(i * FRAME_US + 30_000 + jitter)
    }

    #[test]
    fn a_playout_clock_that_jumps_recovers_within_a_second() {
        let mut p = Playback::new();
        let mut sent = 0;
        p.run(0, 5_000_000, 20_000, &steady, &mut sent);
        let before = p.jb.stats();
        assert_eq!(before.late, 0);
        // A speaker switch: the new device starts with an empty ring (the
        // playout thread fills 40 ms at once) and takes 10 ms at a time.
        p.ring_us = 0;
        p.run(5_000_000, 30_000_000, 10_000, &steady, &mut sent);
        let s = p.jb.stats();
        let concealed_late = p.concealed_after(6_000_000);
        eprintln!(
            "after the switch: {} late, {} concealed ({} after the first second), target {} frames, {:?}",
            s.late - before.late,
            s.concealed - before.concealed,
            concealed_late,
            p.jb.target_frames(),
            s
        );
        assert!(
            s.late - before.late <= 2,
            "late packets: {}",
            s.late - before.late
        );
        assert_eq!(concealed_late, 0, "concealment a second after the switch");
        assert_eq!(s.played + s.discarded + p.jb.depth() as u64, s.inserted);
    }

    #[test]
    fn lip_sync_delay_is_added_and_taken_back_without_gaps() {
        let mut p = Playback::new();
        let mut sent = 0;
        let mean_delay = |p: &Playback, from: u64, to: u64| {
            let d: Vec<u64> = p
                .delays
                .iter()
                .filter(|(t, _)| (from..to).contains(t))
                .map(|&(_, d)| d)
                .collect();
            d.iter().sum::<u64>() / d.len() as u64
        };
        p.run(0, 4_000_000, 10_000, &steady, &mut sent);
        let natural = mean_delay(&p, 2_000_000, 4_000_000);
        assert!(natural < 120_000, "{natural}");
        // 23 frames at most, less the link's target.
        assert_eq!(
            p.jb.max_extra_delay_us(),
            (23 - p.jb.target_frames() as u64) * FRAME_US
        );
        // Sync asks for 200 ms more: reached within a second by inserting
        // whole frames (in quiet frames), with nothing concealed, dropped
        // or stretched.
        let before = p.jb.stats();
        p.jb.set_extra_delay_us(200_000);
        p.run(4_000_000, 8_000_000, 10_000, &steady, &mut sent);
        let held = mean_delay(&p, 5_000_000, 8_000_000);
        eprintln!(
            "natural {natural} us, with 200 ms for sync {held} us, {:?}",
            p.jb.stats()
        );
        assert!(
            (natural + 170_000..natural + 230_000).contains(&held),
            "{natural} -> {held}"
        );
        let s = p.jb.stats();
        assert_eq!(
            (s.concealed, s.discarded, s.late),
            (before.concealed, 0, 0),
            "{s:?}"
        );
        assert_eq!(
            (s.sync_inserted, s.lengthened),
            (10, before.lengthened),
            "{s:?}"
        );
        // Taken back: the delay returns to the link's target depth (which
        // the buffer does not play below; before, nothing had filled it).
        // In lip sync's steps: at most 80 ms every 500 ms.
        let mut now = 8_000_000;
        for extra in [120_000, 40_000, 0] {
            p.jb.set_extra_delay_us(extra);
            p.run(now, now + 500_000, 10_000, &steady, &mut sent);
            now += 500_000;
        }
        p.run(now, 12_000_000, 10_000, &steady, &mut sent);
        let after = mean_delay(&p, 10_000_000, 12_000_000);
        let target = p.jb.target_frames() as u64 * FRAME_US;
        assert!(
            after <= natural.max(target) + 40_000,
            "{natural} -> {after}, target {target}"
        );
        assert_eq!(p.concealed_after(4_000_000), 0);
        let s = p.jb.stats();
        assert_eq!(
            (s.sync_dropped, s.shortened, s.discarded),
            (10, 0, 0),
            "{s:?}"
        );
    }

    #[test]
    fn lip_sync_steps_wait_for_a_quiet_frame_then_stretch() {
        let mut jb = JitterBuffer::new(JitterConfig::default());
        // A packet arrives for every frame played: one held.
        let mut i = 0;
        let mut next = |jb: &mut JitterBuffer| {
            jb.insert(ts(i + 1), vec![0], (i + 1) * FRAME_US);
            i += 1;
            assert!(matches!(jb.pop(false), Playout::Packet(_)));
            jb.stretch()
        };
        jb.insert(ts(0), vec![0], 0);
        next(&mut jb);
        jb.set_extra_delay_us(60_000);
        let mut asked = 0;
        // Loud frames: the step is not made, and asked for again each frame.
        for _ in 0..SYNC_QUIET_WAIT - 1 {
            asked += (next(&mut jb) == Stretch::InsertIfQuiet) as u32;
        }
        assert_eq!(asked, SYNC_QUIET_WAIT - 1);
        assert_eq!(jb.stats().sync_inserted, 0);
        // After 5 s the target takes the whole step (time-stretching,
        // which its depth then asks for, makes it).
        assert_eq!(next(&mut jb), Stretch::Keep);
        assert!(jb.target_frames() >= 4, "{}", jb.target_frames());
    }

    #[test]
    fn a_delay_spike_costs_no_audio_and_the_delay_comes_back_down() {
        let mut p = Playback::new();
        let mut sent = 0;
        // At 5 s the link stalls for 300 ms, then delivers the backlog.
        let spike = |i: u64| {
            let normal = steady(i).unwrap();
            Some(if (5_000_000..5_300_000).contains(&normal) {
                5_300_000
            } else {
                normal
            })
        };
        p.run(0, 5_000_000, 20_000, &spike, &mut sent);
        let normal_depth = p.jb.depth();
        p.run(5_000_000, 15_000_000, 20_000, &spike, &mut sent);
        let s = p.jb.stats();
        eprintln!(
            "delay spike: {s:?}, depth {normal_depth} before, {} 10 s later (target {})",
            p.jb.depth(),
            p.jb.target_frames()
        );
        assert_eq!(
            (s.late, s.skips),
            (0, 0),
            "the stalled packets still played"
        );
        // The backlog (15 frames) drained by dropping frames one in ten.
        assert!(s.discarded <= 15, "{} frames dropped", s.discarded);
        assert!(
            p.jb.depth() <= p.jb.target_frames() + 3,
            "depth {} target {}",
            p.jb.depth(),
            p.jb.target_frames()
        );
    }

    /// The sender's clock runs `ppm` parts per million fast (negative:
    /// slow) against the playout device's: its 20 ms frames come that much
    /// closer together (or further apart).
    fn drifting(ppm: i64) -> impl Fn(u64) -> Option<u64> {
        move |i: u64| {
            let period = (FRAME_US as i64 * (1_000_000 - ppm) / 1_000_000) as u64;
            let jitter = (i * 7919) % 4_000;
            Some(i * period + 30_000 + jitter)
        }
    }

    #[test]
    fn clock_drift_is_absorbed_by_stretching_without_gaps_or_drops() {
        // 0.5 % either way (50 times a typical sound card's error): a frame
        // gained or lost every 4 s, 15 over the minute.
        for ppm in [5_000i64, -5_000] {
            let mut p = Playback::new();
            let mut sent = 0;
            // The estimate needs 15 s of arrivals.
            p.run(0, 25_000_000, 20_000, &drifting(ppm), &mut sent);
            let depth_before = p.jb.depth();
            let before = p.jb.stats();
            p.run(25_000_000, 85_000_000, 20_000, &drifting(ppm), &mut sent);
            let s = p.jb.stats();
            let (shortened, lengthened) = (
                s.shortened - before.shortened,
                s.lengthened - before.lengthened,
            );
            eprintln!(
                "{ppm} ppm: depth {depth_before} -> {} (target {}), {shortened} shortened, \
                 {lengthened} lengthened, {s:?}",
                p.jb.depth(),
                p.jb.target_frames()
            );
            // Nothing is concealed, dropped or late: the difference is
            // taken out of (or put into) frames a pitch period at a time.
            assert_eq!(p.concealed_after(25_000_000), 0, "{ppm} ppm");
            assert_eq!((s.late, s.discarded, s.skips), (0, 0, 0), "{ppm} ppm");
            // 15 frames of 20 ms are 300 ms: 60 stretches of 5 ms.
            let (done, opposite) = if ppm > 0 {
                (shortened, lengthened)
            } else {
                (lengthened, shortened)
            };
            assert!((50..=90).contains(&done), "{ppm} ppm: {done} stretches");
            assert!(opposite <= done / 4, "{ppm} ppm: {opposite} the other way");
            // And the depth stays where it was.
            assert!(
                p.jb.depth().abs_diff(depth_before) <= 2,
                "{ppm} ppm: depth {depth_before} -> {}",
                p.jb.depth()
            );
        }
    }

    #[test]
    fn first_audio_plays_as_soon_as_the_first_packet_is_in() {
        let mut p = Playback::new();
        let mut sent = 0;
        p.run(0, 200_000, 20_000, &steady, &mut sent);
        let (t, first) = &p.log[0];
        assert_eq!(*first, Playout::Packet(vec![0]));
        // Packet 0 arrives at 30 ms; the loop wakes every 5 ms.
        assert!(*t <= 35_000, "first audio at {} ms", t / 1000);
    }
}
