//! Counters and latency histograms shared by the pipeline stages. All
//! updates are lock-free atomics; a [`Stats`] snapshot is taken on demand.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Latency histogram with 0.25 ms buckets up to 1 s (the last bucket
/// collects everything above). Lock-free to record.
pub struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
}

const BUCKET_US: u64 = 250;
const BUCKETS: usize = 4000;

impl LatencyHistogram {
    pub fn new() -> Self {
        LatencyHistogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn record(&self, us: u64) {
        let i = ((us / BUCKET_US) as usize).min(BUCKETS - 1);
        self.buckets[i].fetch_add(1, Relaxed);
    }

    /// Number of samples recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    /// The `q`-quantile (0..=1) in microseconds (bucket midpoint); 0 when empty.
    pub fn quantile_us(&self, q: f64) -> u64 {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return i as u64 * BUCKET_US + BUCKET_US / 2;
            }
        }
        BUCKETS as u64 * BUCKET_US
    }

    pub fn summary(&self) -> Latency {
        Latency {
            p50_us: self.quantile_us(0.5),
            p95_us: self.quantile_us(0.95),
            samples: self.count(),
        }
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

/// Summary of a latency distribution.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Latency {
    pub p50_us: u64,
    pub p95_us: u64,
    pub samples: u64,
}

/// The live counters of one engine.
#[derive(Default)]
pub struct Counters {
    pub video_render_delay_us: AtomicU64,
    /// Lip sync, for the remote whose audio and video are furthest apart:
    /// its audio from capture to the speaker, how far that audio plays
    /// ahead of its video (an `i64`, stored as bits), and the delay sync
    /// adds to each.
    pub audio_latency_us: AtomicU64,
    pub av_sync_offset_us: AtomicU64,
    pub audio_sync_delay_us: AtomicU64,
    pub video_sync_delay_us: AtomicU64,
    pub audio_frames_removed: AtomicU64,
    pub audio_samples_inserted: AtomicU64,
    pub audio_samples_removed: AtomicU64,
    pub video_freezes: AtomicU64,
    pub video_frozen_us: AtomicU64,
    /// The size and frame rate the video encoder runs at now.
    pub video_send_width: AtomicU64,
    pub video_send_height: AtomicU64,
    pub video_send_fps: AtomicU64,
    pub audio_frames_not_recorded: AtomicU64,
    // audio, send side
    pub audio_frames_captured: AtomicU64,
    /// The Opus encoder's expected-loss hint and bitrate now.
    pub audio_expected_loss_pct: AtomicU64,
    pub audio_target_bps: AtomicU64,
    pub audio_frames_encoded: AtomicU64,
    pub audio_bytes_sent: AtomicU64,
    // audio, receive side
    pub audio_packets_received: AtomicU64,
    pub audio_packets_lost: AtomicU64,
    pub audio_frames_decoded: AtomicU64,
    pub audio_fec_recovered: AtomicU64,
    pub audio_concealed: AtomicU64,
    pub audio_late: AtomicU64,
    pub audio_bytes_received: AtomicU64,
    pub audio_playout_underruns: AtomicU64,
    pub audio_decode_errors: AtomicU64,
    // video, send side
    pub video_frames_captured: AtomicU64,
    pub video_frames_dropped_send: AtomicU64,
    pub video_frames_encoded: AtomicU64,
    pub video_encoder_skipped: AtomicU64,
    pub video_keyframes_sent: AtomicU64,
    pub video_keyframe_requests: AtomicU64,
    pub video_bytes_sent: AtomicU64,
    // video, receive side
    pub video_frames_received: AtomicU64,
    pub video_frames_lost: AtomicU64,
    pub video_frames_decoded: AtomicU64,
    pub video_decode_errors: AtomicU64,
    pub video_frames_discarded_waiting_keyframe: AtomicU64,
    pub video_frames_rendered: AtomicU64,
    pub video_frames_dropped_render: AtomicU64,
    pub video_bytes_received: AtomicU64,
    pub local_frames_rendered: AtomicU64,
    pub local_frames_dropped_render: AtomicU64,
    /// Decoded frames the recording skipped because the disk fell behind.
    pub video_frames_not_recorded: AtomicU64,
    // bitrates over the last interval, written by [`RateMeter`]
    pub audio_send_bps: AtomicU64,
    pub audio_recv_bps: AtomicU64,
    pub video_send_bps: AtomicU64,
    pub video_recv_bps: AtomicU64,
}

/// Turns byte counters into bitrates over the time between two updates.
#[derive(Default)]
pub struct RateMeter {
    last: Option<(u64, [u64; 4])>,
}

impl RateMeter {
    pub fn update(&mut self, c: &Counters, now_us: u64) {
        let bytes = [
            c.audio_bytes_sent.load(Relaxed),
            c.audio_bytes_received.load(Relaxed),
            c.video_bytes_sent.load(Relaxed),
            c.video_bytes_received.load(Relaxed),
        ];
        if let Some((then, before)) = self.last {
            let dt = now_us.saturating_sub(then).max(1);
            let rate = |i: usize| bytes[i].saturating_sub(before[i]) * 8 * 1_000_000 / dt;
            c.audio_send_bps.store(rate(0), Relaxed);
            c.audio_recv_bps.store(rate(1), Relaxed);
            c.video_send_bps.store(rate(2), Relaxed);
            c.video_recv_bps.store(rate(3), Relaxed);
        }
        self.last = Some((now_us, bytes));
    }
}

/// Per-stage video latency histograms.
#[derive(Default)]
pub struct Latencies {
    pub encode: LatencyHistogram,
    pub transport: LatencyHistogram,
    pub decode: LatencyHistogram,
    /// Capture to delivery to the frame callback.
    pub end_to_end: LatencyHistogram,
}

/// A snapshot of an engine's statistics. Counters are totals since the
/// engine was created; bitrates cover the last stats interval.
#[derive(Debug, Default, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Stats {
    pub audio_frames_captured: u64,
    pub audio_frames_encoded: u64,
    pub audio_packets_received: u64,
    /// Packets the transport lost.
    pub audio_packets_lost: u64,
    pub audio_frames_decoded: u64,
    pub audio_fec_recovered: u64,
    pub audio_concealed: u64,
    pub audio_late: u64,
    /// Frames of concealment the jitter buffer played because it ran dry
    /// (it waits for late packets instead of skipping them).
    pub audio_playout_underruns: u64,
    /// Frames the jitter buffer dropped to bring its delay back down
    /// (only far above its target, at most one in ten played).
    pub audio_frames_removed: u64,
    /// Samples (48 kHz) time-stretching added to played frames to deepen
    /// the jitter buffer, and took out of them to bring its delay down: a
    /// pitch period at a time, without a gap.
    pub audio_samples_inserted: u64,
    pub audio_samples_removed: u64,
    pub audio_decode_errors: u64,
    pub audio_send_bitrate_bps: u32,
    pub audio_recv_bitrate_bps: u32,
    pub audio_jitter_us: u64,
    /// Host-fed audio: frames the host pushed that found the ring full.
    pub audio_push_dropped_frames: u64,
    /// Host-fed audio: frames the host pulled before any were decoded
    /// (filled with silence).
    pub audio_pull_silent_frames: u64,

    pub video_frames_captured: u64,
    /// Dropped between capture and encoder (encoder busy, captured in a
    /// burst above the frame rate after a stall, or skipped while the
    /// transport's pacer was far behind with the video).
    pub video_frames_dropped_send: u64,
    pub video_frames_encoded: u64,
    pub video_encoder_skipped: u64,
    pub video_keyframes_sent: u64,
    pub video_keyframe_requests: u64,
    pub video_frames_received: u64,
    /// Lost in transport (sequence gaps seen by the receiver).
    pub video_frames_lost: u64,
    /// Dropped between transport and decoder (decoder busy).
    pub video_frames_dropped_recv: u64,
    pub video_frames_decoded: u64,
    pub video_decode_errors: u64,
    /// Frames thrown away while waiting for a keyframe after loss.
    pub video_frames_discarded_waiting_keyframe: u64,
    pub video_frames_rendered: u64,
    /// Dropped before the frame callback (callback too slow).
    pub video_frames_dropped_render: u64,
    /// Decoded frames the recording (`EngineConfig::record_remote_video`)
    /// skipped because the disk fell behind.
    pub video_frames_not_recorded: u64,
    /// The delay the receiver adds to show remote video smoothly (render
    /// scheduling, `EngineConfig::video_delay`), microseconds.
    pub video_render_delay_us: u64,
    /// Lip sync (`control::LipSync`), for the remote whose audio and
    /// video are furthest apart (0 until both were measured): its audio
    /// from the sender's capture to the speaker's buffer, how far that
    /// audio plays ahead of its video (negative: behind), and the delay
    /// sync adds to the audio and to the video (the latter is part of
    /// `video_render_delay_us`), microseconds.
    pub audio_latency_us: u64,
    pub av_sync_offset_us: i64,
    pub audio_sync_delay_us: u64,
    pub video_sync_delay_us: u64,
    /// Freezes in shown remote video, all remotes together (gaps longer
    /// than three frame intervals and 150 ms beyond one, under 5 s — longer
    /// is a pause —, as WebRTC's `freezeCount` counts them), and their
    /// total length.
    pub video_freezes: u64,
    pub video_frozen_ms: u64,
    /// 20 ms frames of played audio the recording
    /// (`EngineConfig::record_remote_audio`) skipped.
    pub audio_frames_not_recorded: u64,
    pub local_frames_rendered: u64,
    pub local_frames_dropped_render: u64,
    pub video_send_bitrate_bps: u32,
    pub video_recv_bitrate_bps: u32,

    /// Capture to encoded, of the frames this engine sends.
    pub video_encode_latency: Latency,
    /// Received frames: encoded (echo test) or captured (calls: the
    /// sender's clock mapped through its RTCP sender reports, so it
    /// includes the sender's encoding) to complete here. Frames that
    /// arrive before the first sender report are not counted.
    pub video_transport_latency: Latency,
    pub video_decode_latency: Latency,
    /// Capture (the sender's, as above) to delivery of the decoded frame
    /// to the host.
    pub video_end_to_end_latency: Latency,

    /// Network sessions only: round-trip time of the path (0 until measured).
    pub rtt_us: u64,
    /// Fraction 0..1 of sent packets the peer reported lost.
    pub egress_loss: f32,
    /// Fraction 0..1 of the peer's packets lost on the way here.
    pub ingress_loss: f32,
    /// The congestion controller's estimate of the path (0 until known).
    pub bandwidth_estimate_bps: u32,
    /// What the video encoder is asked for now.
    pub video_target_bitrate_bps: u32,
    /// The size and frame rate the video encoder runs at now: the rung of
    /// the resolution ladder the target bitrate carries.
    pub video_send_width: u32,
    pub video_send_height: u32,
    pub video_send_fps: u32,
    /// The Opus encoder's FEC budget now: the loss it expects, in percent,
    /// following the loss the peer reports (0 on a clean link).
    pub audio_expected_loss_pct: u32,
    /// The Opus encoder's bitrate now (raised to pay for FEC under loss).
    pub audio_target_bitrate_bps: u32,
    /// Retransmissions of video asked for.
    pub video_nacks_sent: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_come_from_byte_deltas() {
        let c = Counters::default();
        let mut m = RateMeter::default();
        m.update(&c, 0);
        c.video_bytes_sent.store(125_000, Relaxed);
        m.update(&c, 1_000_000);
        assert_eq!(c.video_send_bps.load(Relaxed), 1_000_000);
        assert_eq!(c.audio_send_bps.load(Relaxed), 0);
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let h = LatencyHistogram::new();
        assert_eq!(h.quantile_us(0.5), 0);
        for ms in 1..=100u64 {
            h.record(ms * 1000);
        }
        h.record(10_000_000);
        let p50 = h.quantile_us(0.5);
        assert!((50_000..=51_250).contains(&p50), "{p50}");
        assert_eq!(h.count(), 101);
        assert!(h.quantile_us(1.0) >= 999_000);
    }
}
