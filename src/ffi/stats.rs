//! `media_stats` and `media_remote_stats`, written into the host's structs.

use super::*;

/// Engine statistics. Counters are totals since the engine was created;
/// bitrates cover the last stats interval; latencies are in microseconds.
/// Set `struct_size` before `media_engine_get_stats`; fields added in later
/// versions go at the end.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct media_stats {
    /// `sizeof(media_stats)` as the host was compiled.
    pub struct_size: u32,
    pub audio_frames_captured: u64,
    pub audio_frames_encoded: u64,
    pub audio_packets_received: u64,
    pub audio_packets_lost: u64,
    pub audio_frames_decoded: u64,
    pub audio_fec_recovered: u64,
    pub audio_concealed: u64,
    pub audio_playout_underruns: u64,
    pub audio_send_bitrate_bps: u32,
    pub audio_recv_bitrate_bps: u32,
    pub audio_jitter_us: u64,
    pub video_frames_captured: u64,
    pub video_frames_encoded: u64,
    pub video_frames_decoded: u64,
    pub video_frames_rendered: u64,
    /// Frames dropped anywhere between capture and the frame callback.
    pub video_frames_dropped: u64,
    pub video_frames_lost: u64,
    pub video_keyframes_sent: u64,
    pub video_keyframe_requests: u64,
    pub video_decode_errors: u64,
    pub video_send_bitrate_bps: u32,
    pub video_recv_bitrate_bps: u32,
    pub video_encode_latency_p50_us: u64,
    pub video_transport_latency_p50_us: u64,
    pub video_decode_latency_p50_us: u64,
    /// Capture to delivery of the decoded frame to the frame callback.
    pub video_latency_p50_us: u64,
    pub video_latency_p95_us: u64,
    /// Host-fed audio: pushed frames (per channel) that found the ring
    /// full; pulled frames filled with silence. Added after the first
    /// layout with a `struct_size`.
    pub audio_push_dropped_frames: u64,
    pub audio_pull_silent_frames: u64,
    /// The Opus encoder's FEC budget now (the loss it expects, percent,
    /// following the loss the peer reports) and its bitrate.
    pub audio_expected_loss_pct: u32,
    pub audio_target_bitrate_bps: u32,
    /// The size and frame rate the video encoder runs at now: the
    /// resolution ladder steps down when the bitrate cannot carry the
    /// configured size, and back up when it can.
    pub video_send_width: u32,
    pub video_send_height: u32,
    pub video_send_fps: u32,
    /// The delay the receiver adds to show remote video smoothly
    /// (`video_delay`), microseconds.
    pub video_render_delay_us: u32,
    /// Freezes in shown remote video (gaps longer than three frame
    /// intervals and 150 ms beyond one, under 5 s, as WebRTC counts them)
    /// and their total length.
    pub video_freezes: u64,
    pub video_frozen_ms: u64,
    /// 20 ms audio frames the jitter buffer dropped to cut its delay.
    pub audio_frames_removed: u64,
    /// Samples (48 kHz) time-stretching added to / took out of played
    /// speech to move the jitter buffer's depth, a pitch period at a time.
    pub audio_samples_inserted: u64,
    pub audio_samples_removed: u64,
    /// Lip sync, for the remote whose audio and video are furthest apart
    /// (0 until both were measured), microseconds: its audio from the
    /// sender's capture to the speaker's buffer; how far that audio plays
    /// ahead of its video (negative: behind); the delay sync adds to the
    /// audio and to the video (the latter is part of
    /// `video_render_delay_us`).
    pub audio_latency_us: u32,
    pub av_sync_offset_us: i32,
    pub audio_sync_delay_us: u32,
    pub video_sync_delay_us: u32,
}

// SAFETY: repr(C) integers led by `struct_size`.
unsafe impl Grown for media_stats {
    const NAME: &'static str = "media_stats";
    const V1_SIZE: usize = std::mem::offset_of!(media_stats, audio_push_dropped_frames);
}

pub(crate) fn stats_to_c(s: &Stats) -> media_stats {
    media_stats {
        struct_size: std::mem::size_of::<media_stats>() as u32,
        audio_frames_captured: s.audio_frames_captured,
        audio_frames_encoded: s.audio_frames_encoded,
        audio_packets_received: s.audio_packets_received,
        audio_packets_lost: s.audio_packets_lost,
        audio_frames_decoded: s.audio_frames_decoded,
        audio_fec_recovered: s.audio_fec_recovered,
        audio_concealed: s.audio_concealed,
        audio_playout_underruns: s.audio_playout_underruns,
        audio_send_bitrate_bps: s.audio_send_bitrate_bps,
        audio_recv_bitrate_bps: s.audio_recv_bitrate_bps,
        audio_jitter_us: s.audio_jitter_us,
        video_frames_captured: s.video_frames_captured,
        video_frames_encoded: s.video_frames_encoded,
        video_frames_decoded: s.video_frames_decoded,
        video_frames_rendered: s.video_frames_rendered,
        video_frames_dropped: s.video_frames_dropped_send
            + s.video_encoder_skipped
            + s.video_frames_dropped_recv
            + s.video_frames_discarded_waiting_keyframe
            + s.video_decode_errors
            + s.video_frames_dropped_render,
        video_frames_lost: s.video_frames_lost,
        video_keyframes_sent: s.video_keyframes_sent,
        video_keyframe_requests: s.video_keyframe_requests,
        video_decode_errors: s.video_decode_errors,
        video_send_bitrate_bps: s.video_send_bitrate_bps,
        video_recv_bitrate_bps: s.video_recv_bitrate_bps,
        video_encode_latency_p50_us: s.video_encode_latency.p50_us,
        video_transport_latency_p50_us: s.video_transport_latency.p50_us,
        video_decode_latency_p50_us: s.video_decode_latency.p50_us,
        video_latency_p50_us: s.video_end_to_end_latency.p50_us,
        video_latency_p95_us: s.video_end_to_end_latency.p95_us,
        audio_push_dropped_frames: s.audio_push_dropped_frames,
        audio_pull_silent_frames: s.audio_pull_silent_frames,
        audio_expected_loss_pct: s.audio_expected_loss_pct,
        audio_target_bitrate_bps: s.audio_target_bitrate_bps,
        video_send_width: s.video_send_width,
        video_send_height: s.video_send_height,
        video_send_fps: s.video_send_fps,
        video_render_delay_us: s.video_render_delay_us.min(u32::MAX as u64) as u32,
        video_freezes: s.video_freezes,
        video_frozen_ms: s.video_frozen_ms,
        audio_frames_removed: s.audio_frames_removed,
        audio_samples_inserted: s.audio_samples_inserted,
        audio_samples_removed: s.audio_samples_removed,
        audio_latency_us: s.audio_latency_us.min(u32::MAX as u64) as u32,
        av_sync_offset_us: s.av_sync_offset_us.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
        audio_sync_delay_us: s.audio_sync_delay_us.min(u32::MAX as u64) as u32,
        video_sync_delay_us: s.video_sync_delay_us.min(u32::MAX as u64) as u32,
    }
}

/// Writes a statistics snapshot to `*out`, as much of it as
/// `out->struct_size` (which the host sets to `sizeof(media_stats)`)
/// covers. `MEDIA_ERR_INVALID_ARGUMENT` when `struct_size` is unset.
#[no_mangle]
pub extern "C" fn media_engine_get_stats(
    engine: *const media_engine,
    out: *mut media_stats,
) -> media_result {
    with_engine(engine, |e| {
        // SAFETY: NULL or a host struct of `struct_size` writable bytes.
        match unsafe { sized::write(out, stats_to_c(&e.stats())) } {
            Ok(()) => MEDIA_OK,
            Err(r) => r,
        }
    })
}

/// Statistics of one remote user (see `media_engine_get_remote_stats`).
/// Bitrates and fps are averaged over about the last second.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct media_remote_stats {
    /// `sizeof(media_remote_stats)` as the host was compiled; set it in
    /// `out[0]` before `media_engine_get_remote_stats`.
    pub struct_size: u32,
    /// The channel member's uid; 0 for the peer of a 1v1 call.
    pub uid: u32,
    pub rtt_us: u64,
    /// Fractions 0..1: of our packets the remote lost, of its packets we lost.
    pub egress_loss: f32,
    pub ingress_loss: f32,
    pub audio_jitter_us: u64,
    pub bandwidth_estimate_bps: u32,
    pub send_bitrate_bps: u32,
    pub audio_recv_bitrate_bps: u32,
    pub video_recv_bitrate_bps: u32,
    pub video_fps: f32,
    pub video_width: u32,
    pub video_height: u32,
    pub audio_packets_received: u64,
    pub audio_packets_lost: u64,
    pub audio_frames_decoded: u64,
    pub audio_concealed: u64,
    pub video_frames_received: u64,
    pub video_frames_decoded: u64,
    pub video_frames_lost: u64,
    pub video_nacks_sent: u64,
    /// Last network quality scores (0 unknown, 1 excellent … 6 down).
    pub tx_quality: u32,
    pub rx_quality: u32,
    /// Freezes in this user's shown video (as in `media_stats`) and their
    /// total length. Added after the first layout.
    pub video_freezes: u64,
    pub video_frozen_ms: u64,
    /// 1 when our audio to this user carries redundant copies of the
    /// frames before each packet (RFC 2198 RED, on while it reports loss).
    pub audio_redundancy: u32,
    /// Audio held in this user's jitter buffer now, milliseconds.
    pub audio_buffer_ms: u32,
    /// The largest round trip in the last stats interval (about a
    /// second), microseconds; `rtt_us` is the latest.
    pub rtt_max_us: u64,
}

// SAFETY: repr(C) numbers led by `struct_size`.
unsafe impl Grown for media_remote_stats {
    const NAME: &'static str = "media_remote_stats";
    const V1_SIZE: usize = std::mem::offset_of!(media_remote_stats, video_freezes);
}

/// Writes the statistics of up to `capacity` remote users of the running
/// session to `out[0..]` and their total number to `*count` (which may be
/// larger than `capacity`: call again with more room). `out` may be NULL
/// when `capacity` is 0.
#[no_mangle]
pub extern "C" fn media_engine_get_remote_stats(
    engine: *const media_engine,
    out: *mut media_remote_stats,
    capacity: usize,
    count: *mut usize,
) -> media_result {
    with_engine(engine, |e| {
        // SAFETY: NULL or the host's `size_t`.
        let Some(count) = (unsafe { count.as_mut() }) else {
            return MEDIA_ERR_NULL_ARGUMENT;
        };
        if out.is_null() && capacity > 0 {
            return MEDIA_ERR_NULL_ARGUMENT;
        }
        // The host's element size, which is also the array's stride.
        let stride = if capacity > 0 {
            // SAFETY: `out` is non-NULL with `capacity` >= 1 entries.
            match unsafe { sized::write(out, media_remote_stats::default()) } {
                Ok(()) => (unsafe { out.cast::<u32>().read() }) as usize,
                Err(r) => return r,
            }
        } else {
            0
        };
        let all = e.remote_stats();
        *count = all.len();
        for (i, r) in all.iter().take(capacity).enumerate() {
            let c = media_remote_stats {
                struct_size: std::mem::size_of::<media_remote_stats>() as u32,
                uid: r.uid,
                rtt_us: r.rtt_us,
                egress_loss: r.egress_loss,
                ingress_loss: r.ingress_loss,
                audio_jitter_us: r.audio_jitter_us,
                bandwidth_estimate_bps: r.bandwidth_estimate_bps,
                send_bitrate_bps: r.send_bitrate_bps,
                audio_recv_bitrate_bps: r.audio_recv_bitrate_bps,
                video_recv_bitrate_bps: r.video_recv_bitrate_bps,
                video_fps: r.video_fps,
                video_width: r.video_width,
                video_height: r.video_height,
                audio_packets_received: r.audio_packets_received,
                audio_packets_lost: r.audio_packets_lost,
                audio_frames_decoded: r.audio_frames_decoded,
                audio_concealed: r.audio_concealed,
                video_frames_received: r.video_frames_received,
                video_frames_decoded: r.video_frames_decoded,
                video_frames_lost: r.video_frames_lost,
                video_nacks_sent: r.video_nacks_sent,
                tx_quality: r.tx_quality as u32,
                rx_quality: r.rx_quality as u32,
                video_freezes: r.video_freezes,
                video_frozen_ms: r.video_frozen_ms,
                audio_redundancy: r.audio_redundancy as u32,
                audio_buffer_ms: r.audio_buffer_ms,
                rtt_max_us: r.rtt_max_us,
            };
            // SAFETY: the host promises `capacity` entries of `stride` bytes;
            // each gets the size it was compiled with.
            let entry = unsafe { out.cast::<u8>().add(i * stride) }.cast::<media_remote_stats>();
            unsafe { entry.cast::<u32>().write_unaligned(stride as u32) };
            if let Err(r) = unsafe { sized::write(entry, c) } {
                return r;
            }
        }
        MEDIA_OK
    })
}
