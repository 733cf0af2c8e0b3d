//! Network quality as vendor SDKs report it: one number per direction,
//! 0 unknown, 1 excellent … 5 very bad, 6 down. Pure: measurements in,
//! score out.

/// A quality score (0 unknown, 1 excellent, 2 good, 3 poor, 4 bad, 5 very bad, 6 down).
pub type Quality = u8;

pub const UNKNOWN: Quality = 0;
pub const DOWN: Quality = 6;

/// Scores one direction of a path from its loss fraction (0..1), the
/// round-trip time and jitter. `None` inputs are unknown.
pub fn score(loss: Option<f32>, rtt_ms: Option<u32>, jitter_ms: Option<u32>) -> Quality {
    if loss.is_none() && rtt_ms.is_none() {
        return UNKNOWN;
    }
    // Each measure maps to the score it alone would earn; the worst wins.
    // `limits` are the upper bounds of scores 1 to 4; beyond them it is 5.
    let grade = |value: f32, limits: [f32; 4]| {
        limits
            .iter()
            .position(|&l| value < l)
            .map_or(5, |i| i as Quality + 1)
    };
    let by_loss = grade(loss.unwrap_or(0.0) * 100.0, [1.0, 3.0, 8.0, 15.0]);
    let by_rtt = grade(rtt_ms.unwrap_or(0) as f32, [150.0, 300.0, 500.0, 800.0]);
    let by_jitter = grade(jitter_ms.unwrap_or(0) as f32, [30.0, 60.0, 100.0, 200.0]);
    by_loss.max(by_rtt).max(by_jitter)
}

/// Turns the transport's once-a-second path statistics into a
/// (transmit, receive) score every other report, i.e. every 2 s.
#[derive(Debug, Default)]
pub struct QualityTracker {
    reports: u64,
    last_bytes_received: Option<u64>,
    silent_reports: u32,
}

impl QualityTracker {
    pub fn update(
        &mut self,
        n: &crate::transport::webrtc::NetworkStats,
    ) -> Option<(Quality, Quality)> {
        self.reports += 1;
        if self.last_bytes_received == Some(n.bytes_received) {
            self.silent_reports += 1;
        } else {
            self.silent_reports = 0;
        }
        self.last_bytes_received = Some(n.bytes_received);
        if !self.reports.is_multiple_of(2) {
            return None;
        }
        let rtt = n.rtt_us.map(|us| (us / 1000) as u32);
        let tx = score(n.egress_loss, rtt, None);
        let rx = if self.silent_reports >= 2 {
            DOWN
        } else {
            score(n.ingress_loss, rtt, None)
        };
        Some((tx, rx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_the_worst_measure() {
        assert_eq!(score(None, None, None), UNKNOWN);
        assert_eq!(score(Some(0.0), Some(20), Some(5)), 1);
        assert_eq!(score(Some(0.02), Some(20), Some(5)), 2);
        assert_eq!(score(Some(0.05), Some(20), Some(5)), 3);
        assert_eq!(score(Some(0.0), Some(600), Some(5)), 4);
        assert_eq!(score(Some(0.30), Some(20), Some(5)), 5);
        assert_eq!(score(Some(0.0), Some(20), Some(150)), 4);
    }

    #[test]
    fn the_tracker_reports_every_other_update_and_detects_silence() {
        use crate::transport::webrtc::NetworkStats;
        let mut t = QualityTracker::default();
        let mut n = NetworkStats {
            rtt_us: Some(20_000),
            egress_loss: Some(0.0),
            ingress_loss: Some(0.0),
            ..Default::default()
        };
        let mut out = Vec::new();
        for i in 0..6u64 {
            n.bytes_received = if i < 3 { i * 1000 } else { 2000 };
            out.push(t.update(&n));
        }
        assert_eq!(
            out,
            vec![
                None,
                Some((1, 1)),
                None,
                Some((1, 1)),
                None,
                Some((1, DOWN))
            ]
        );
    }
}
