//! The audio jitter buffer: holds received Opus packets and decides, once per
//! 20 ms of playout, what the decoder does next: decode a packet, recover a
//! lost one from the in-band FEC of its successor, or conceal it.
//!
//! Pure decision code: no clock, no threads. The caller passes arrival times
//! in and asks for the next [`Playout`] whenever the device needs audio.

use std::collections::BTreeMap;

/// Samples per 20 ms frame at 48 kHz.
pub const FRAME_SAMPLES: u64 = 960;
const FRAME_US: u64 = 20_000;

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
    /// Concealment because the buffer ran dry (no later packet either).
    pub underruns: u64,
    /// Packets dropped to shrink a buffer that grew too deep.
    pub discarded: u64,
}

/// Tunables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// Smallest depth, in 20 ms frames, before playout starts.
    pub min_frames: usize,
    /// Largest depth; beyond it the oldest packets are dropped.
    pub max_frames: usize,
    /// Consecutive dry concealments after which playout stops and rebuffers.
    pub max_dry_conceal: u32,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig {
            min_frames: 3,
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
    /// RFC 3550 interarrival jitter estimate, microseconds.
    jitter_us: f64,
    last_transit: Option<i64>,
    stats: JitterStats,
}

impl JitterBuffer {
    pub fn new(config: JitterConfig) -> Self {
        JitterBuffer {
            config,
            packets: BTreeMap::new(),
            next: None,
            dry: 0,
            jitter_us: 0.0,
            last_transit: None,
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

    /// The depth playout aims for: the configured minimum, raised when the
    /// measured jitter needs more.
    pub fn target_frames(&self) -> usize {
        let need = ((3.0 * self.jitter_us) / FRAME_US as f64).ceil() as usize + 1;
        need.clamp(self.config.min_frames, self.config.max_frames / 2)
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

        if self.next.is_some_and(|next| index < next) {
            self.stats.late += 1;
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
        let next = match self.next {
            Some(next) => next,
            None => {
                if self.packets.len() < self.target_frames() {
                    return Playout::Idle;
                }
                let (&first, _) = self.packets.first_key_value().expect("non-empty");
                self.next = Some(first);
                first
            }
        };
        if may_wait && self.packets.is_empty() {
            return Playout::Wait;
        }
        self.next = Some(next + 1);
        if let Some(payload) = self.packets.remove(&next) {
            self.dry = 0;
            self.stats.played += 1;
            // A buffer far deeper than needed adds latency: drop one frame.
            if self.packets.len() > self.target_frames() + 4 {
                if let Some((first, _)) = self.packets.pop_first() {
                    self.stats.discarded += 1;
                    self.next = Some(first + 1);
                }
            }
            return Playout::Packet(payload);
        }
        if let Some(successor) = self.packets.get(&(next + 1)) {
            self.dry = 0;
            self.stats.fec_recovered += 1;
            return Playout::Fec(successor.clone());
        }
        self.stats.concealed += 1;
        if self.packets.is_empty() {
            self.stats.underruns += 1;
            self.dry += 1;
            if self.dry >= self.config.max_dry_conceal {
                self.next = None;
                self.dry = 0;
            }
        }
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
    fn waits_for_target_depth_then_plays_in_order() {
        let mut jb = filled(&[0, 1]);
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
}
