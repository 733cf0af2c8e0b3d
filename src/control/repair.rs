//! How much of a video stream may be repairs (retransmissions answering
//! the receiver's NACKs). Random loss on a link with room needs many: at
//! 20 % loss about a quarter of what goes out repeats something, and
//! answering fewer turns lost packets into keyframe waits. Loss from a
//! full bottleneck queue is the opposite case: every repair adds to the
//! queue that dropped the packet. The round trip tells them apart — a
//! queue shows as an RTT well above the path's floor — so repairs may be
//! half of the stream while the RTT stays near its floor, and fall back to
//! the transport's cautious 15 % as soon as it rises.

use super::rtt::{queue_building, RttFloor};

/// Share of a second's video bytes that may be repairs on a path without
/// a queue, and on one with a queue.
pub const OPEN_PATH_SHARE: f32 = 0.5;
pub const QUEUED_PATH_SHARE: f32 = 0.15;
/// The queue must have been gone this long before repairs open up again
/// (changing the share resets the transport's repair history).
const REOPEN_AFTER_US: u64 = 5_000_000;

/// See the module docs.
#[derive(Debug, Clone)]
pub struct RepairPolicy {
    floor: RttFloor,
    share: f32,
    /// Since when the RTT has been near its floor.
    calm_since: Option<u64>,
}

impl Default for RepairPolicy {
    fn default() -> Self {
        RepairPolicy {
            floor: RttFloor::default(),
            share: OPEN_PATH_SHARE,
            calm_since: None,
        }
    }
}

impl RepairPolicy {
    /// The share in force.
    pub fn share(&self) -> f32 {
        self.share
    }

    /// A round trip measured at `now_us` (RTCP, or ICE's checks, which
    /// see the path before media fills any queue). Returns the new share
    /// when it changes.
    pub fn on_rtt(&mut self, now_us: u64, rtt_us: u64) -> Option<f32> {
        let floor = self.floor.get().unwrap_or(rtt_us).min(rtt_us);
        self.floor.observe(now_us, rtt_us);
        let queued = queue_building(floor, rtt_us);
        let want = if queued {
            self.calm_since = None;
            QUEUED_PATH_SHARE
        } else {
            let calm = *self.calm_since.get_or_insert(now_us);
            if now_us.saturating_sub(calm) >= REOPEN_AFTER_US {
                OPEN_PATH_SHARE
            } else {
                self.share
            }
        };
        (want != self.share).then(|| {
            self.share = want;
            want
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000;
    const S: u64 = 1_000_000;

    #[test]
    fn repairs_stay_open_on_a_lossy_path_without_a_queue() {
        let mut p = RepairPolicy::default();
        assert_eq!(p.share(), OPEN_PATH_SHARE);
        let mut rng = fastrand::Rng::with_seed(3);
        for t in 0..60 {
            // 5–15 ms: jitter, no queue.
            let rtt = 5 * MS + rng.u64(0..10 * MS);
            assert_eq!(p.on_rtt(t * S, rtt), None, "at {t} s");
        }
        // A long path is not a queue either.
        let mut p = RepairPolicy::default();
        for t in 0..30 {
            assert_eq!(p.on_rtt(t * S, 300 * MS + (t % 3) * 20 * MS), None);
        }
    }

    #[test]
    fn a_queue_closes_them_at_once_and_they_reopen_after_it_has_drained() {
        let mut p = RepairPolicy::default();
        // ICE saw the path at 2 ms before media started.
        p.on_rtt(0, 2 * MS);
        // The first RTCP round trips come through a full queue.
        assert_eq!(p.on_rtt(S, 430 * MS), Some(QUEUED_PATH_SHARE));
        for t in 2..6 {
            assert_eq!(p.on_rtt(t * S, 650 * MS), None);
        }
        // Drained at 6 s; open again 5 s later.
        let reopened = (6..20).find(|&t| p.on_rtt(t * S, 8 * MS).is_some());
        assert_eq!(reopened, Some(11));
        assert_eq!(p.share(), OPEN_PATH_SHARE);
        // A queue that builds again closes them at once.
        assert_eq!(p.on_rtt(21 * S, 200 * MS), Some(QUEUED_PATH_SHARE));
    }
}
