//! How far behind str0m's pacer is with our video.
//!
//! str0m sends every packet through a pacer running at 1.1× its bandwidth
//! estimate. When the video, its repairs and the audio add up to more,
//! the rest waits in the pacer — up to two seconds, when str0m forces it
//! out — and every frame reaches the peer that much later, its repairs
//! later still. Nothing in str0m's API tells how much waits, so the
//! connection watches it from outside: each video frame written is noted
//! with its RTP timestamp, and the first packet of it that leaves (RTP
//! headers are not encrypted) marks it sent. The oldest frame not yet sent
//! tells how long the pacer is behind; the encoder skips frames while it
//! is far behind (`control::PacerGate`).

use std::collections::VecDeque;

/// Frames noted at most (8 s at 30 fps): a pacer further behind than that
/// is still measured by its oldest frame.
const MAX_UNSENT: usize = 256;
/// A frame noted this long ago and never seen leaving (one str0m refused,
/// or dropped with its queue) is forgotten.
const FORGET_US: u64 = 3_000_000;

/// See the module docs.
#[derive(Debug, Default)]
pub(super) struct PacerWatch {
    /// The video's RTP payload type, once known.
    pt: Option<u8>,
    /// Frames written whose first packet has not left: (RTP timestamp,
    /// when written), oldest first.
    unsent: VecDeque<(u32, u64)>,
}

impl PacerWatch {
    /// A video frame with RTP timestamp `ts` (payload type `pt`) was
    /// handed to str0m at `now_us`.
    pub fn on_written(&mut self, now_us: u64, pt: u8, ts: u32) {
        self.pt = Some(pt);
        if self.unsent.len() < MAX_UNSENT {
            self.unsent.push_back((ts, now_us));
        }
    }

    /// A datagram leaves: when it is an RTP packet of the video, the
    /// frames up to its timestamp have started to leave.
    pub fn on_transmit(&mut self, datagram: &[u8]) {
        let Some((pt, ts)) = rtp_pt_and_timestamp(datagram) else {
            return;
        };
        if Some(pt) != self.pt {
            return;
        }
        while let Some(&(front, _)) = self.unsent.front() {
            // Not after this packet's timestamp (RTP timestamps wrap).
            if (ts.wrapping_sub(front) as i32) < 0 {
                break;
            }
            self.unsent.pop_front();
        }
    }

    /// How long the oldest video frame not yet sent has waited at
    /// `now_us` (0: none waits).
    pub fn wait_us(&mut self, now_us: u64) -> u64 {
        while self
            .unsent
            .front()
            .is_some_and(|&(_, at)| now_us.saturating_sub(at) > FORGET_US)
        {
            self.unsent.pop_front();
        }
        self.unsent
            .front()
            .map_or(0, |&(_, at)| now_us.saturating_sub(at))
    }
}

/// The payload type and timestamp of an RTP packet (not RTCP: its packet
/// types 200–206 read as payload types 72–78 with the marker bit set).
fn rtp_pt_and_timestamp(d: &[u8]) -> Option<(u8, u32)> {
    if d.len() < 12 || d[0] >> 6 != 2 {
        return None;
    }
    let pt = d[1] & 0x7f;
    if (72..=78).contains(&pt) {
        return None;
    }
    Some((pt, u32::from_be_bytes([d[4], d[5], d[6], d[7]])))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000;

    fn rtp(pt: u8, ts: u32, len: usize) -> Vec<u8> {
        let mut p = vec![0u8; len.max(12)];
        p[0] = 0x80;
        p[1] = 0x80 | pt;
        p[4..8].copy_from_slice(&ts.to_be_bytes());
        p
    }

    #[test]
    fn the_oldest_frame_not_sent_is_how_far_behind_the_pacer_is() {
        let mut w = PacerWatch::default();
        assert_eq!(w.wait_us(0), 0);
        for i in 0..5u32 {
            w.on_written(u64::from(i) * 33 * MS, 96, i * 3_000);
        }
        // Frame 0 and 1 have left; frame 2 waits since 66 ms.
        w.on_transmit(&rtp(96, 0, 1_200));
        w.on_transmit(&rtp(96, 3_000, 1_200));
        assert_eq!(w.wait_us(200 * MS), 134 * MS);
        // Repairs, audio and RTCP do not move it.
        w.on_transmit(&rtp(97, 12_000, 1_200));
        w.on_transmit(&rtp(111, 12_000, 200));
        let mut rtcp = rtp(0, 12_000, 40);
        rtcp[1] = 200;
        w.on_transmit(&rtcp);
        assert_eq!(w.wait_us(200 * MS), 134 * MS);
        // A later frame's packet: all before it have left too.
        w.on_transmit(&rtp(96, 12_000, 1_200));
        assert_eq!(w.wait_us(210 * MS), 0);
    }

    #[test]
    fn timestamps_that_wrap_still_order_the_frames() {
        let mut w = PacerWatch::default();
        w.on_written(0, 96, u32::MAX - 1_000);
        w.on_written(33 * MS, 96, 2_000);
        w.on_transmit(&rtp(96, u32::MAX - 1_000, 1_000));
        assert_eq!(w.wait_us(100 * MS), 67 * MS);
        w.on_transmit(&rtp(96, 2_000, 1_000));
        assert_eq!(w.wait_us(100 * MS), 0);
    }

    #[test]
    fn a_frame_never_seen_leaving_is_forgotten_and_memory_is_bounded() {
        let mut w = PacerWatch::default();
        w.on_written(0, 96, 0);
        assert_eq!(w.wait_us(FORGET_US), FORGET_US);
        assert_eq!(w.wait_us(FORGET_US + 1), 0);
        for i in 0..10_000u32 {
            w.on_written(FORGET_US + 1, 96, i);
        }
        assert_eq!(w.unsent.len(), MAX_UNSENT);
        // Garbage is no RTP packet.
        w.on_transmit(&[]);
        w.on_transmit(&[0xff; 11]);
        w.on_transmit(&[0x00; 40]);
        assert_eq!(w.unsent.len(), MAX_UNSENT);
    }
}
