//! The video stages. Send: camera → preview + bounded queue (drops the
//! oldest frame, counted) → H.264 encode → transport ("media-video-send").
//! Receive: transport → H.264 decode → render queue ("media-video-recv");
//! on loss or a decode error it discards until an IDR and asks the sender
//! for one (at most every 300 ms). An encoder that fails 3 frames in a row
//! is replaced, a decoder that fails on an IDR at once (a platform codec can
//! break for good, as iOS's do in the background).

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, TrySendError};

use super::config::VideoConfig;
use super::events::{
    device_error_callback, emit, emit_error, queue_frame, Event, FrameSource, Stream,
};
use super::recorder::Recorder;
use super::remote::Remote;
use super::worker::Worker;
use super::Shared;
use crate::codec::video::{new_encoder, H264Settings, VideoCodec, VideoDecoder};
use crate::control::{KeyframePolicy, VideoLadder};
use crate::devices::convert;
use crate::devices::video::{VideoInput, Y4mWriter};
use crate::error::Result;
use crate::frame::{EncodedFrame, MediaKind, VideoFrame};
use crate::jitter::video::{FreezeMeter, RenderScheduler, VideoDelay};

/// Camera → encoder → transport.
pub(crate) struct VideoSend {
    input: Box<dyn VideoInput>,
    worker: Worker,
}

impl VideoSend {
    /// `follow_input_size`: encode frames at the size they come in (host
    /// pushed video), restarting the encoder when it changes, instead of
    /// scaling them to the configured size.
    pub(crate) fn start(
        mut input: Box<dyn VideoInput>,
        config: VideoConfig,
        codec: Arc<dyn VideoCodec>,
        follow_input_size: bool,
        shared: Arc<Shared>,
    ) -> Result<Self> {
        let settings = H264Settings {
            width: config.width,
            height: config.height,
            max_fps: config.fps as f32,
            bitrate_bps: config.bitrate_bps,
        };
        let mut encoder = new_encoder(&*codec, settings)?;
        let c = &shared.counters;
        c.video_send_width.store(config.width as u64, Relaxed);
        c.video_send_height.store(config.height as u64, Relaxed);
        c.video_send_fps.store(config.fps as u64, Relaxed);
        let (tx, rx) = bounded::<VideoFrame>(2);
        let on_frame = {
            let (shared, rx) = (shared.clone(), rx.clone());
            let mut first = true;
            Box::new(move |frame: VideoFrame| {
                shared.counters.video_frames_captured.fetch_add(1, Relaxed);
                if std::mem::take(&mut first) {
                    emit(
                        &shared.events_tx,
                        Event::FirstLocalVideoFrame {
                            width: frame.width,
                            height: frame.height,
                        },
                    );
                }
                queue_frame(&shared, FrameSource::Local, frame.clone());
                let mut frame = frame;
                loop {
                    match tx.try_send(frame) {
                        Ok(()) | Err(TrySendError::Disconnected(_)) => break,
                        Err(TrySendError::Full(f)) => {
                            frame = f;
                            if rx.try_recv().is_ok() {
                                shared
                                    .counters
                                    .video_frames_dropped_send
                                    .fetch_add(1, Relaxed);
                            }
                        }
                    }
                }
            })
        };
        let on_error = device_error_callback(&shared.events_tx, Stream::LocalVideo);
        input.start(on_frame, on_error)?;
        let worker = Worker::spawn(
            "media-video-send",
            &shared.events_tx.clone(),
            Stream::LocalVideo,
            move |stop| {
                let c = &shared.counters;
                let mut seq = 0u64;
                let start_us = shared.clock.now_us();
                let mut ladder = VideoLadder::new(config.width, config.height, config.fps);
                let mut last_sent_us: Option<u64> = None;
                let mut keyframes = KeyframePolicy::default();
                // The next IDR answers a receiver's request (the policy
                // spaces only those: the engine's own — the first, a new
                // peer's — may never have reached the receiver asking).
                let mut answering = false;
                // Frames the encoder failed in a row (reported on the
                // first; every FAILURES_BEFORE_NEW_ENCODER, a new one).
                let mut failures = 0u32;
                // A size and rate no encoder could be made for: not tried
                // again until the rung changes.
                let mut refused: Option<(u32, u32, u32)> = None;
                // When a frame last came to be encoded (or was skipped for
                // a pacer behind): video that stopped (muted, in the
                // background, a host that stopped pushing) does not keep
                // the path searched for a larger size.
                let mut encoding_at = shared.clock.now_us();
                let step_up = &shared.video_step_up_bps;
                while !stop.load(Relaxed) {
                    if shared.clock.now_us().saturating_sub(encoding_at) > VIDEO_STOPPED_US {
                        step_up.store(0, Relaxed);
                    }
                    let frame = match rx.recv_timeout(Duration::from_millis(50)) {
                        Ok(f) => f,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => break,
                    };
                    if !shared.has_transports()
                        || shared.video_muted.load(Relaxed)
                        || shared.background.load(Relaxed)
                    {
                        continue;
                    }
                    encoding_at = shared.clock.now_us();
                    if encoding_at < shared.skip_video_until_us.load(Relaxed) {
                        // A transport's pacer is behind: this frame would
                        // wait there before its first packet left.
                        c.video_frames_dropped_send.fetch_add(1, Relaxed);
                        continue;
                    }
                    let target = shared.target_video_bps.load(Relaxed) as u32;
                    let target = target.clamp(config.min_bitrate_bps, config.max_bitrate_bps);
                    if target != encoder.settings().bitrate_bps {
                        if let Err(e) = encoder.set_bitrate(target) {
                            emit_error(&shared.events_tx, &e);
                        }
                    }
                    let asked = shared.keyframe_requested.swap(false, Relaxed)
                        && keyframes.answer(shared.clock.now_us());
                    if shared.keyframe_wanted.swap(false, Relaxed) || asked {
                        encoder.request_keyframe();
                    }
                    answering |= asked;
                    // The rung of the ladder the rate carries (what
                    // follows a drain, not the drain itself): its
                    // size (the input's, or smaller) and frame rate.
                    if follow_input_size {
                        ladder.set_input(frame.width, frame.height);
                    }
                    // At least the target: the two atomics are read apart.
                    let sustained = (shared.sustained_video_bps.load(Relaxed) as u32).max(target);
                    ladder.update(shared.clock.now_us(), sustained);
                    // The estimator looks for room for the next rung up.
                    step_up.store(ladder.step_up_bps().unwrap_or(0) as u64, Relaxed);
                    let rung = ladder.rung();
                    let interval_us = 1_000_000 / rung.fps.max(1) as u64;
                    if last_sent_us.is_some_and(|last| {
                        frame.capture_us.saturating_sub(last) + interval_us / 4 < interval_us
                    }) {
                        // Above the rung's frame rate. At the full rate
                        // that is a frame captured in a burst after a
                        // stall: counted as dropped (a lower rung's
                        // skipped frames are its design, not a loss).
                        if rung.fps >= config.fps {
                            c.video_frames_dropped_send.fetch_add(1, Relaxed);
                        }
                        continue;
                    }
                    let mut frame = convert::scale(&frame, rung.width, rung.height);
                    let s = encoder.settings();
                    let wanted = (frame.width, frame.height, rung.fps);
                    if wanted != (s.width, s.height, s.max_fps as u32) && refused != Some(wanted) {
                        // A new size or rate: a new encoder, which starts
                        // with an IDR.
                        let resized = H264Settings {
                            width: frame.width,
                            height: frame.height,
                            max_fps: rung.fps as f32,
                            ..s
                        };
                        match new_encoder(&*codec, resized) {
                            Ok(e) => {
                                encoder = e;
                                refused = None;
                                // Mid-call, its IDR reaches every receiver
                                // as an answer would: requests made while
                                // it is on its way get no second one.
                                answering |= seq > 0;
                                c.video_send_width.store(frame.width as u64, Relaxed);
                                c.video_send_height.store(frame.height as u64, Relaxed);
                                c.video_send_fps.store(rung.fps as u64, Relaxed);
                            }
                            Err(e) => {
                                // Reported once; the running encoder goes
                                // on at its own size and rate.
                                emit_error(&shared.events_tx, &e);
                                refused = Some(wanted);
                            }
                        }
                    }
                    let s = encoder.settings();
                    if (frame.width, frame.height) != (s.width, s.height) {
                        frame = convert::scale(&frame, s.width, s.height);
                    }
                    last_sent_us = Some(frame.capture_us);
                    let pts_ms = frame.capture_us.saturating_sub(start_us) / 1000;
                    let encoded = encoder.encode(&frame, pts_ms);
                    if encoded.is_ok() {
                        failures = 0;
                    }
                    match encoded {
                        Ok(Some(out)) => {
                            let now = shared.clock.now_us();
                            shared
                                .latencies
                                .encode
                                .record(now.saturating_sub(frame.capture_us));
                            c.video_frames_encoded.fetch_add(1, Relaxed);
                            // How much the picture needs at this rung.
                            ladder.on_encoded(now, out.data.len(), out.keyframe, target);
                            if out.keyframe {
                                c.video_keyframes_sent.fetch_add(1, Relaxed);
                                if std::mem::take(&mut answering) {
                                    keyframes.on_keyframe_sent(
                                        now,
                                        out.data.len(),
                                        target,
                                        shared.rtt_us.load(Relaxed),
                                    );
                                }
                            }
                            let bytes = out.data.len() as u64;
                            let sent = shared.send_to_all(EncodedFrame {
                                kind: MediaKind::Video,
                                seq,
                                timestamp: frame.capture_us * 9 / 100,
                                capture_us: frame.capture_us,
                                encoded_us: now,
                                capture_known: true,
                                keyframe: out.keyframe,
                                data: out.data,
                            });
                            c.video_bytes_sent.fetch_add(bytes * sent, Relaxed);
                            seq += 1;
                        }
                        Ok(None) => {
                            c.video_encoder_skipped.fetch_add(1, Relaxed);
                        }
                        Err(e) => {
                            failures += 1;
                            if failures == 1 {
                                emit_error(&shared.events_tx, &e);
                            }
                            // A platform encoder can break for good (iOS
                            // invalidates its sessions while the app is in
                            // the background): after a few failures in a
                            // row the next frame goes to a new one, which
                            // starts with an IDR.
                            if failures.is_multiple_of(FAILURES_BEFORE_NEW_ENCODER) {
                                if let Ok(fresh) = new_encoder(&*codec, encoder.settings()) {
                                    encoder = fresh;
                                    answering |= seq > 0;
                                }
                            }
                        }
                    }
                }
                step_up.store(0, Relaxed);
            },
        );
        match worker {
            Ok(worker) => Ok(VideoSend { input, worker }),
            Err(e) => {
                input.stop();
                Err(e)
            }
        }
    }

    pub(crate) fn stop(mut self) {
        self.input.stop();
        self.worker.stop();
    }
}

/// Without a frame encoded for this long, the video counts as stopped:
/// the path is no longer searched for room to step up.
const VIDEO_STOPPED_US: u64 = 1_000_000;

/// Frames an encoder fails in a row before it is replaced (one failure
/// may be a frame the platform dropped; a broken session fails them all).
const FAILURES_BEFORE_NEW_ENCODER: u32 = 3;

/// Frames queued for the recording at most; beyond that they are skipped
/// (and counted) rather than slowing the call down.
const RECORD_QUEUE: usize = 90;

/// Transport → decoder → render queue (and an optional Y4M recording).
pub(crate) struct VideoRecv {
    worker: Worker,
}

const KEYFRAME_REQUEST_INTERVAL_US: u64 = 300_000;
/// Decoded frames waiting for their render time at most (beyond, the
/// oldest is shown at once): 2 s at 30 fps, above the largest delay.
const MAX_SCHEDULED: usize = 60;

impl VideoRecv {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start(
        frames: Receiver<EncodedFrame>,
        recorder: Option<Y4mWriter>,
        remote: Arc<Remote>,
        delay: VideoDelay,
        lip_sync: bool,
        codec: Result<Arc<dyn VideoCodec>>,
        stream: Stream,
        shared: Arc<Shared>,
    ) -> Result<Self> {
        // The decoder is made when video first arrives (platform decoders
        // are scarce: an audio-only remote takes none). While none can be
        // made (a build without its own codec and no host codec, or the
        // host's failing) the call goes on with audio: the host is told
        // once, remote video is counted as discarded, and each keyframe
        // tries again.
        let mut decoder: Option<Box<dyn VideoDecoder>> = None;
        let mut decoder_reported = false;
        let recorder = match recorder {
            Some(w) => Some(Recorder::start(
                "media-record",
                RECORD_QUEUE,
                &shared.events_tx,
                w,
                |w: &mut Y4mWriter, frame: VideoFrame| w.write(&frame),
                |_| Ok(()),
            )?),
            None => None,
        };
        let worker = Worker::spawn(
            "media-video-recv",
            &shared.events_tx.clone(),
            stream,
            move |stop| {
                let c = &shared.counters;
                let rc = &remote.c;
                let uid = remote.uid;
                let mut expected: Option<u64> = None;
                let mut waiting_for_keyframe = true;
                let mut last_request: Option<u64> = None;
                let mut first = true;
                // Decoded frames wait here for their render time.
                let mut scheduler = RenderScheduler::new(delay);
                if lip_sync {
                    scheduler.follow_lip_sync();
                }
                let mut due_frames: VecDeque<(u64, VideoFrame)> = VecDeque::new();
                let mut freezes = FreezeMeter::default();
                // Capture to the screen, smoothed over 16 frames (lip sync).
                let mut latency: Option<u64> = None;
                let show = |freezes: &mut FreezeMeter, frame: VideoFrame| {
                    let before = (freezes.freezes(), freezes.frozen_us());
                    freezes.on_shown(shared.clock.now_us());
                    if freezes.freezes() > before.0 {
                        let us = freezes.frozen_us() - before.1;
                        for (counter, n) in [
                            (&c.video_freezes, 1),
                            (&rc.video_freezes, 1),
                            (&c.video_frozen_us, us),
                            (&rc.video_frozen_us, us),
                        ] {
                            counter.fetch_add(n, Relaxed);
                        }
                    }
                    queue_frame(&shared, FrameSource::Remote(uid), frame);
                };
                let request_keyframe = |last: &mut Option<u64>| {
                    let now = shared.clock.now_us();
                    if last.is_none_or(|t| now.saturating_sub(t) >= KEYFRAME_REQUEST_INTERVAL_US) {
                        *last = Some(now);
                        c.video_keyframe_requests.fetch_add(1, Relaxed);
                        remote.transport.request_keyframe();
                    }
                };
                while !stop.load(Relaxed) {
                    let now = shared.clock.now_us();
                    // Show what is due (and never hold more than
                    // MAX_SCHEDULED).
                    while due_frames.front().is_some_and(|(due, _)| *due <= now)
                        || due_frames.len() > MAX_SCHEDULED
                    {
                        let Some((_, frame)) = due_frames.pop_front() else {
                            break;
                        };
                        show(&mut freezes, frame);
                    }
                    let wait = due_frames
                        .front()
                        .map_or(Duration::from_millis(50), |(due, _)| {
                            Duration::from_micros(due.saturating_sub(now))
                                .min(Duration::from_millis(50))
                        });
                    let f = match frames.recv_timeout(wait) {
                        Ok(f) => f,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => return,
                    };
                    let now = shared.clock.now_us();
                    let bytes = f.data.len() as u64;
                    for (total, n) in [
                        (&c.video_frames_received, 1),
                        (&rc.video_frames_received, 1),
                        (&c.video_bytes_received, bytes),
                        (&rc.video_bytes_received, bytes),
                    ] {
                        total.fetch_add(n, Relaxed);
                    }
                    if f.capture_known {
                        // Received frames: from the sender's capture (its encoding
                        // included) to arrival here.
                        shared
                            .latencies
                            .transport
                            .record(now.saturating_sub(f.encoded_us));
                    }
                    if let Some(e) = expected {
                        if f.seq < e {
                            continue; // duplicate or reordered past its turn
                        }
                        if f.seq > e {
                            c.video_frames_lost.fetch_add(f.seq - e, Relaxed);
                            rc.video_frames_lost.fetch_add(f.seq - e, Relaxed);
                            waiting_for_keyframe = true;
                        }
                    }
                    expected = Some(f.seq + 1);
                    if decoder.is_none() && (f.keyframe || !decoder_reported) {
                        match codec
                            .as_ref()
                            .map_err(Clone::clone)
                            .and_then(|c| c.decoder())
                        {
                            Ok(d) => decoder = Some(d),
                            Err(e) => {
                                if !std::mem::replace(&mut decoder_reported, true) {
                                    emit_error(&shared.events_tx, &e);
                                }
                            }
                        }
                    }
                    let Some(decoder) = decoder.as_mut() else {
                        c.video_frames_discarded_waiting_keyframe
                            .fetch_add(1, Relaxed);
                        continue;
                    };
                    if waiting_for_keyframe && !f.keyframe {
                        c.video_frames_discarded_waiting_keyframe
                            .fetch_add(1, Relaxed);
                        request_keyframe(&mut last_request);
                        continue;
                    }
                    let mut decoded = decoder.decode(&f.data, f.capture_us);
                    if decoded.is_err() && f.keyframe {
                        // An IDR that does not decode: the decoder itself
                        // may be broken for good (iOS invalidates its
                        // sessions in the background). A new one gets it.
                        if let Some(fresh) = codec.as_ref().ok().and_then(|c| c.decoder().ok()) {
                            *decoder = fresh;
                            decoded = decoder.decode(&f.data, f.capture_us);
                        }
                    }
                    match decoded {
                        Ok(Some(frame)) => {
                            let mut frame = frame;
                            frame.capture_known = f.capture_known;
                            if std::mem::take(&mut waiting_for_keyframe) || f.keyframe {
                                scheduler.resync();
                            }
                            shared
                                .latencies
                                .decode
                                .record(shared.clock.now_us().saturating_sub(now));
                            c.video_frames_decoded.fetch_add(1, Relaxed);
                            rc.video_frames_decoded.fetch_add(1, Relaxed);
                            rc.video_width.store(frame.width as u64, Relaxed);
                            rc.video_height.store(frame.height as u64, Relaxed);
                            if std::mem::take(&mut first) {
                                emit(
                                    &shared.events_tx,
                                    Event::FirstRemoteVideoFrame {
                                        uid,
                                        width: frame.width,
                                        height: frame.height,
                                    },
                                );
                            }
                            if let Some(rec) = recorder.as_ref() {
                                if !rec.write(frame.clone()) {
                                    c.video_frames_not_recorded.fetch_add(1, Relaxed);
                                }
                            }
                            // Shown at its capture time plus the delay
                            // that smooths the network's unevenness, in
                            // order.
                            scheduler.set_extra_delay_us(rc.video_sync_delay_us.load(Relaxed));
                            let due = scheduler
                                .on_frame(f.timestamp * 100 / 9, now)
                                .max(due_frames.back().map_or(0, |(d, _)| *d));
                            c.video_render_delay_us.store(scheduler.delay_us(), Relaxed);
                            if f.capture_known {
                                let now = shared.clock.now_us();
                                let this = due.max(now).saturating_sub(f.capture_us);
                                let smoothed = latency.map_or(this, |l| (l * 15 + this) / 16);
                                latency = Some(smoothed);
                                rc.video_latency_us.store(smoothed, Relaxed);
                                rc.video_latency_at_us.store(now.max(1), Relaxed);
                            }
                            if due_frames.is_empty() && due <= shared.clock.now_us() {
                                show(&mut freezes, frame);
                            } else {
                                due_frames.push_back((due, frame));
                            }
                        }
                        Ok(None) => {}
                        Err(_) => {
                            c.video_decode_errors.fetch_add(1, Relaxed);
                            waiting_for_keyframe = true;
                            request_keyframe(&mut last_request);
                        }
                    }
                }
            },
        )?;
        Ok(VideoRecv { worker })
    }

    pub(crate) fn stop(mut self) {
        self.worker.stop();
    }
}
