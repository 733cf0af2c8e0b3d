//! One remote user of a session: the transport to it, its counters and its
//! path measurements. A 1v1 call and the echo test have one remote (uid 0);
//! a channel has one per member media flows with.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use super::events::{emit, Event};
use super::quality::QualityTracker;
use super::Shared;
use crate::transport::webrtc::ConnectionState;
use crate::transport::{Feedback, Transport};

/// Statistics of one remote user, from [`crate::Engine::remote_stats`].
/// Bitrates and fps are averaged over the last second or so.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize)]
pub struct RemoteStats {
    /// The member's channel uid; 0 for the peer of a 1v1 call.
    pub uid: u32,
    pub rtt_us: u64,
    /// The largest round trip in the last stats interval (about a second;
    /// `rtt_us` is the latest, read 40 times a second).
    pub rtt_max_us: u64,
    /// Fraction 0..1 of our packets the remote reports lost.
    pub egress_loss: f32,
    /// Fraction 0..1 of the remote's packets we lost.
    pub ingress_loss: f32,
    pub audio_jitter_us: u64,
    /// What the path to this remote can carry (0: no estimate yet).
    pub bandwidth_estimate_bps: u32,
    pub send_bitrate_bps: u32,
    pub audio_recv_bitrate_bps: u32,
    pub video_recv_bitrate_bps: u32,
    /// Decoded frames per second of the remote's video.
    pub video_fps: f32,
    pub video_width: u32,
    pub video_height: u32,
    pub audio_packets_received: u64,
    pub audio_packets_lost: u64,
    pub audio_frames_decoded: u64,
    pub audio_concealed: u64,
    pub audio_fec_recovered: u64,
    pub video_frames_received: u64,
    pub video_frames_decoded: u64,
    pub video_frames_lost: u64,
    pub video_nacks_sent: u64,
    /// Freezes in this remote's shown video (gaps longer than three frame
    /// intervals and 150 ms beyond one, under 5 s — longer is a pause —, as
    /// WebRTC counts them) and their total length.
    pub video_freezes: u64,
    pub video_frozen_ms: u64,
    /// Our audio to this remote carries redundant copies of the frames
    /// before each packet (RFC 2198 RED), as the loss it reports asks.
    pub audio_redundancy: bool,
    /// Audio held in this remote's jitter buffer now, milliseconds.
    pub audio_buffer_ms: u32,
    /// Last network quality scores (0 unknown, 1 excellent … 6 down).
    pub tx_quality: u8,
    pub rx_quality: u8,
}

#[derive(Default)]
pub(crate) struct RemoteCounters {
    pub audio_packets_received: AtomicU64,
    pub audio_packets_lost: AtomicU64,
    pub audio_frames_decoded: AtomicU64,
    pub audio_concealed: AtomicU64,
    pub audio_fec_recovered: AtomicU64,
    pub audio_bytes_received: AtomicU64,
    pub audio_jitter_us: AtomicU64,
    pub video_frames_received: AtomicU64,
    pub video_frames_decoded: AtomicU64,
    pub video_frames_lost: AtomicU64,
    pub video_bytes_received: AtomicU64,
    pub video_width: AtomicU64,
    pub video_height: AtomicU64,
    pub rtt_us: AtomicU64,
    pub rtt_max_us: AtomicU64,
    pub egress_loss_ppm: AtomicU64,
    pub ingress_loss_ppm: AtomicU64,
    pub bandwidth_estimate_bps: AtomicU64,
    pub video_nacks_sent: AtomicU64,
    pub video_freezes: AtomicU64,
    pub video_frozen_us: AtomicU64,
    pub tx_quality: AtomicU64,
    pub rx_quality: AtomicU64,
    /// 0 before the first report, then [`REDUNDANCY_OFF`] or
    /// [`REDUNDANCY_ON`].
    pub audio_redundancy: AtomicU64,
    pub audio_buffer_ms: AtomicU64,
    /// Lip sync: the remote's video from capture to the screen, smoothed
    /// (microseconds), and when it was last measured (0: never); the
    /// delay sync asks the video to add.
    pub video_latency_us: AtomicU64,
    pub video_latency_at_us: AtomicU64,
    pub video_sync_delay_us: AtomicU64,
}

/// Whether audio to a remote carries RED, once reported (before that it
/// is on where negotiated, see `control::RedundancyPolicy`).
pub(crate) const REDUNDANCY_OFF: u64 = 1;
pub(crate) const REDUNDANCY_ON: u64 = 2;

#[derive(Default)]
struct Rates {
    last: Option<(u64, [u64; 4])>,
    /// send, audio receive, video receive bits per second; fps × 100.
    values: [u64; 4],
}

/// Rates are recomputed when a snapshot finds the last one this old.
const RATE_WINDOW_US: u64 = 500_000;

pub(crate) struct Remote {
    pub uid: u32,
    pub transport: Arc<dyn Transport>,
    pub c: RemoteCounters,
    quality: Mutex<QualityTracker>,
    rates: Mutex<Rates>,
}

impl Remote {
    pub(crate) fn new(uid: u32, transport: Arc<dyn Transport>) -> Self {
        Remote {
            uid,
            transport,
            c: RemoteCounters::default(),
            quality: Mutex::new(QualityTracker::default()),
            rates: Mutex::new(Rates::default()),
        }
    }

    /// Applies what this remote's transport reports, to the remote and to
    /// the engine-wide figures (which follow the latest report of any
    /// remote). Returns whether what steers the send rate (the bandwidth
    /// estimate, the loss the remote reports) changed.
    pub(crate) fn apply_feedback(&self, shared: &Shared, fb: Feedback) -> bool {
        let uid = self.uid;
        match fb {
            Feedback::KeyframeRequest => shared.keyframe_requested.store(true, Relaxed),
            Feedback::KeyframeNeeded => shared.keyframe_wanted.store(true, Relaxed),
            Feedback::BitrateEstimate(bps) => {
                self.c.bandwidth_estimate_bps.store(bps as u64, Relaxed);
                return true;
            }
            Feedback::Connection(state) => {
                emit(&shared.events_tx, Event::Connection { uid, state });
                if state == ConnectionState::Failed {
                    shared.media_failed(uid);
                }
            }
            Feedback::NetworkStats(n) => {
                let scores = self
                    .quality
                    .lock()
                    .map(|mut q| q.update(&n))
                    .unwrap_or(None);
                if let Some((tx, rx)) = scores {
                    self.c.tx_quality.store(tx as u64, Relaxed);
                    self.c.rx_quality.store(rx as u64, Relaxed);
                    emit(&shared.events_tx, Event::NetworkQuality { uid, tx, rx });
                }
                let both = |mine: &AtomicU64, engine: &AtomicU64, v: u64| {
                    mine.store(v, Relaxed);
                    engine.store(v, Relaxed);
                };
                let ppm = |l: f32| (l.clamp(0.0, 1.0) * 1e6) as u64;
                if let Some(rtt) = n.path_rtt_us {
                    shared.steer_rate(|rate, now| rate.on_path_rtt(now, rtt));
                }
                if let Some(rtt) = n.rtt_us {
                    both(&self.c.rtt_us, &shared.rtt_us, rtt);
                }
                if let Some(rtt) = n.rtt_max_us {
                    self.c.rtt_max_us.store(rtt, Relaxed);
                }
                let red = if n.audio_redundancy {
                    REDUNDANCY_ON
                } else {
                    REDUNDANCY_OFF
                };
                self.c.audio_redundancy.store(red, Relaxed);
                if let Some(l) = n.ingress_loss {
                    both(&self.c.ingress_loss_ppm, &shared.ingress_loss_ppm, ppm(l));
                }
                if let Some(l) = n.egress_loss {
                    both(&self.c.egress_loss_ppm, &shared.egress_loss_ppm, ppm(l));
                    shared.egress_loss_reports.fetch_add(1, Relaxed);
                    return true;
                }
            }
            Feedback::RoundTrip(rt) => {
                shared.steer_rate(|rate, now| rate.on_round_trip(now, rt));
            }
            Feedback::Pacer {
                wait_us,
                estimate_bps,
            } => {
                let now = shared.clock.now_us();
                let verdict = shared
                    .pacer_gate
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .on_report(now, uid, wait_us, estimate_bps);
                shared
                    .skip_video_until_us
                    .store(verdict.skip_until_us, Relaxed);
                shared.steer_rate(|rate, now| rate.on_pacer_budget(now, verdict.budget_bps));
            }
            Feedback::NacksSent(n) => {
                let before = self.c.video_nacks_sent.swap(n, Relaxed);
                shared
                    .video_nacks_sent
                    .fetch_add(n.saturating_sub(before), Relaxed);
            }
        }
        false
    }

    pub(crate) fn stats(&self, now_us: u64) -> RemoteStats {
        let g = |a: &AtomicU64| a.load(Relaxed);
        let c = &self.c;
        let totals = [
            self.transport.stats().bytes_sent,
            g(&c.audio_bytes_received),
            g(&c.video_bytes_received),
            g(&c.video_frames_decoded),
        ];
        let rates = {
            let mut r = self.rates.lock().unwrap_or_else(|p| p.into_inner());
            match r.last {
                Some((then, before)) if now_us.saturating_sub(then) >= RATE_WINDOW_US => {
                    let dt = now_us - then;
                    for i in 0..3 {
                        r.values[i] = totals[i].saturating_sub(before[i]) * 8 * 1_000_000 / dt;
                    }
                    r.values[3] = totals[3].saturating_sub(before[3]) * 100 * 1_000_000 / dt;
                    r.last = Some((now_us, totals));
                }
                Some(_) => {}
                None => r.last = Some((now_us, totals)),
            }
            r.values
        };
        RemoteStats {
            uid: self.uid,
            rtt_us: g(&c.rtt_us),
            rtt_max_us: g(&c.rtt_max_us),
            egress_loss: g(&c.egress_loss_ppm) as f32 / 1e6,
            ingress_loss: g(&c.ingress_loss_ppm) as f32 / 1e6,
            audio_jitter_us: g(&c.audio_jitter_us),
            bandwidth_estimate_bps: g(&c.bandwidth_estimate_bps) as u32,
            send_bitrate_bps: rates[0] as u32,
            audio_recv_bitrate_bps: rates[1] as u32,
            video_recv_bitrate_bps: rates[2] as u32,
            video_fps: rates[3] as f32 / 100.0,
            video_width: g(&c.video_width) as u32,
            video_height: g(&c.video_height) as u32,
            audio_packets_received: g(&c.audio_packets_received),
            audio_packets_lost: g(&c.audio_packets_lost),
            audio_frames_decoded: g(&c.audio_frames_decoded),
            audio_concealed: g(&c.audio_concealed),
            audio_fec_recovered: g(&c.audio_fec_recovered),
            video_frames_received: g(&c.video_frames_received),
            video_frames_decoded: g(&c.video_frames_decoded),
            video_frames_lost: g(&c.video_frames_lost),
            video_nacks_sent: g(&c.video_nacks_sent),
            video_freezes: g(&c.video_freezes),
            video_frozen_ms: g(&c.video_frozen_us) / 1000,
            audio_redundancy: g(&c.audio_redundancy) == REDUNDANCY_ON,
            audio_buffer_ms: g(&c.audio_buffer_ms) as u32,
            tx_quality: g(&c.tx_quality) as u8,
            rx_quality: g(&c.rx_quality) as u8,
        }
    }
}
