//! When the sender answers a receiver's keyframe request.
//!
//! A receiver that lost a frame for good asks for a keyframe every few
//! hundred milliseconds until one arrives whole. An IDR is many times the
//! size of a P-frame, and at a low rate it takes a while to leave the
//! pacer. Answering every request sends IDRs back to back: each one queues
//! behind the last, its repairs arrive after the receiver stopped waiting
//! for them, the receiver asks again — and the picture does not come back
//! while the link carries little but keyframes. So a request is answered
//! once the last IDR has had time to arrive: its own size at the current
//! rate plus two round trips, and at least [`MIN_INTERVAL_US`]. A request
//! refused is forgotten: if that IDR did not arrive whole, the receiver
//! asks again.
//!
//! Only IDRs that answered a request, or that a new size made mid-call,
//! start the wait: the engine's other ones (the call's first, a new
//! peer's, video unmuted) may never have reached the receiver that asks —
//! one sent before its connection was up — so its first request is
//! answered at once. A new size's IDR goes out on connections that are up;
//! without the wait, a capacity drop that steps the ladder down sent it
//! and, right behind it, an IDR for every receiver request it crossed.
//!
//! Pure decision code: times in, answers out.

/// Requests closer together than this to the last IDR are refused even
/// when the IDR is small and the path short.
pub const MIN_INTERVAL_US: u64 = 300_000;

/// See the module docs.
#[derive(Debug, Default)]
pub struct KeyframePolicy {
    /// Until when the last IDR is still on its way.
    busy_until_us: Option<u64>,
}

impl KeyframePolicy {
    /// A receiver asks for a keyframe at `now_us`: whether to send one.
    pub fn answer(&self, now_us: u64) -> bool {
        self.busy_until_us.is_none_or(|until| now_us >= until)
    }

    /// An IDR of `bytes` left the encoder at `now_us`, with the target at
    /// `bitrate_bps` and the round trip at `rtt_us` (0: not known yet).
    pub fn on_keyframe_sent(&mut self, now_us: u64, bytes: usize, bitrate_bps: u32, rtt_us: u64) {
        let on_the_wire = bytes as u64 * 8 * 1_000_000 / bitrate_bps.max(1) as u64;
        let wait = (on_the_wire + 2 * rtt_us).max(MIN_INTERVAL_US);
        self.busy_until_us = Some(now_us + wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000;

    /// A receiver asking every 300 ms for `seconds`; each answer is an IDR
    /// of `idr_bytes`. How many IDRs were sent.
    fn run(seconds: u64, idr_bytes: usize, bitrate_bps: u32, rtt_us: u64) -> usize {
        let mut p = KeyframePolicy::default();
        let mut sent = 0;
        for i in 0..seconds * 1_000 / 300 {
            let now = i * 300 * MS;
            if p.answer(now) {
                p.on_keyframe_sent(now, idr_bytes, bitrate_bps, rtt_us);
                sent += 1;
            }
        }
        sent
    }

    #[test]
    fn the_first_request_is_answered_at_once() {
        assert!(KeyframePolicy::default().answer(0));
    }

    #[test]
    fn at_a_low_rate_an_idr_is_given_time_to_arrive() {
        // 20 kB at 200 kbit/s: 800 ms on the wire, + 2 × 10 ms.
        let sent = run(10, 20_000, 200_000, 10 * MS);
        assert_eq!(sent, 11, "one per 900 ms (33 requests)");
    }

    #[test]
    fn at_a_high_rate_every_request_is_answered() {
        // 30 kB at 2.5 Mbit/s: 96 ms on the wire; the minimum interval is
        // the request interval.
        assert_eq!(run(9, 30_000, 2_500_000, 5 * MS), 30);
    }

    #[test]
    fn a_long_path_waits_two_round_trips() {
        let mut p = KeyframePolicy::default();
        p.on_keyframe_sent(0, 5_000, 1_000_000, 400 * MS);
        assert!(!p.answer(799 * MS));
        assert!(p.answer(840 * MS));
    }
}
