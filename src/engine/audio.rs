//! The audio stages. Send: microphone ring → mono 48 kHz → Opus → transport
//! ("media-audio-send"). Receive: transport → jitter buffer → Opus decode
//! (with FEC and concealment) → speaker ring ("media-audio-recv"). Both
//! threads wake every 5 ms; the speaker ring's fill level is the playout
//! clock, so audio follows the device's own clock.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver, Sender};
use ringbuf::traits::{Consumer, Observer, Producer};
use ringbuf::HeapProd;

use super::events::{device_error_callback, emit, emit_error, Event, Stream};
use super::recorder::Recorder;
use super::remote::{Remote, REDUNDANCY_OFF, REDUNDANCY_ON};
use super::worker::Worker;
use super::Shared;
use crate::codec::opus::{OpusDecoder, OpusEncoder, OpusSettings, FRAME_SAMPLES};
use crate::control::{AudioModeController, LipSync, SyncDelays, RED_FRAMES_PER_PACKET};
use crate::devices::audio::{AudioFormat, AudioInput, AudioOutput, AudioSink, WavSink};
use crate::devices::resample::{downmix, upmix, Resampler};
use crate::error::Result;
use crate::frame::{EncodedFrame, MediaKind};
use crate::jitter::video::VideoDelay;
use crate::jitter::{stretch, JitterBuffer, JitterConfig, Playout, Stretch};
use crate::transport::Feedback;
use crate::voice::{VoiceProcessor, VoiceStages};

const TICK: Duration = Duration::from_millis(5);
/// What audio's packet headers cost on the wire besides its payload: 50
/// packets a second of IP, UDP, RTP with its extensions and the SRTP tag
/// (about 60 bytes).
const AUDIO_PACKET_OVERHEAD_BPS: u64 = 50 * 60 * 8;
/// Played frames queued for the recording at most (2 s).
const RECORD_QUEUE: usize = 100;
/// The most lip sync delays a remote's video (audio far behind it: a deep
/// jitter buffer).
const MAX_VIDEO_SYNC_US: u64 = 300_000;
/// A stream not measured for this long is not playing, for lip sync.
const SYNC_STALE_US: u64 = 1_000_000;
/// Frames the capture-to-playout delay is smoothed over.
const LATENCY_SMOOTHING: f64 = 16.0;
/// A decoded frame whose samples all stay below this (-34 dBFS) is quiet;
/// once [`QUIET_RUN`] in a row were, speech has paused and lip sync may
/// add or skip a whole frame there unheard.
const QUIET_PEAK: f32 = 0.02;
const QUIET_RUN: u32 = 3;

/// Microphone → encoder → transport.
pub(crate) struct AudioSend {
    input: Box<dyn AudioInput>,
    worker: Worker,
}

impl AudioSend {
    pub(crate) fn start(
        mut input: Box<dyn AudioInput>,
        settings: OpusSettings,
        voice: VoiceStages,
        shared: Arc<Shared>,
    ) -> Result<Self> {
        let mut encoder = OpusEncoder::new(settings)?;
        let mut processor = VoiceProcessor::new(voice, &shared.far_end)?;
        let mut mode = AudioModeController::new(settings);
        let publish = |shared: &Shared, s: OpusSettings| {
            let c = &shared.counters;
            c.audio_expected_loss_pct
                .store(s.expected_loss_pct as u64, Relaxed);
            c.audio_target_bps.store(s.bitrate_bps as u64, Relaxed);
        };
        publish(&shared, settings);
        let (format, mut ring) =
            input.start(device_error_callback(&shared.events_tx, Stream::LocalAudio))?;
        let worker = Worker::spawn(
            "media-audio-send",
            &shared.events_tx.clone(),
            Stream::LocalAudio,
            move |stop| {
                let mut raw = vec![0f32; 4096];
                let (mut mono, mut pcm) = (Vec::new(), Vec::new());
                let mut resampler = Resampler::new(format.sample_rate, 48_000);
                let mut packet = Vec::new();
                let (mut seq, mut timestamp) = (0u64, 0u64);
                let c = &shared.counters;
                let mut reports_seen = shared.egress_loss_reports.load(Relaxed);
                while !stop.load(Relaxed) {
                    std::thread::sleep(TICK);
                    loop {
                        let n = ring.pop_slice(&mut raw);
                        if n == 0 {
                            break;
                        }
                        mono.clear();
                        downmix(
                            &raw[..n - n % format.channels as usize],
                            format.channels,
                            &mut mono,
                        );
                        resampler.process(&mono, &mut pcm);
                    }
                    let now = shared.clock.now_us();
                    let reports = shared.egress_loss_reports.load(Relaxed);
                    let mut changed = None;
                    if reports != reports_seen {
                        reports_seen = reports;
                        let loss = shared.egress_loss_ppm.load(Relaxed) as f32 / 1e6;
                        let red = shared.audio_redundancy.load(Relaxed);
                        changed = mode.on_loss_report(now, loss, red);
                    }
                    let estimate = shared.bandwidth_estimate_bps.load(Relaxed);
                    if let Some(m) = mode.on_path_estimate(now, estimate).or(changed) {
                        let s = OpusSettings {
                            expected_loss_pct: m.expected_loss_pct,
                            bitrate_bps: m.bitrate_bps,
                            ..encoder.settings()
                        };
                        match encoder.apply(s) {
                            Ok(()) => publish(&shared, s),
                            Err(e) => emit_error(&shared.events_tx, &e),
                        }
                    }
                    let mut consumed = 0;
                    while pcm.len() - consumed >= FRAME_SAMPLES {
                        let frame = &mut pcm[consumed..consumed + FRAME_SAMPLES];
                        consumed += FRAME_SAMPLES;
                        c.audio_frames_captured.fetch_add(1, Relaxed);
                        // Runs while muted too, so that the canceller stays
                        // converged for when the microphone comes back.
                        processor.process(frame);
                        if shared.audio_muted.load(Relaxed) {
                            frame.fill(0.0);
                        }
                        if let Err(e) = encoder.encode(frame, &mut packet) {
                            emit_error(&shared.events_tx, &e);
                            continue;
                        }
                        c.audio_frames_encoded.fetch_add(1, Relaxed);
                        // The frame's first sample was captured this long ago.
                        let age_us =
                            ((pcm.len() - consumed + FRAME_SAMPLES) as u64) * 1_000_000 / 48_000;
                        let frame = EncodedFrame {
                            kind: MediaKind::Audio,
                            seq,
                            timestamp,
                            capture_us: now.saturating_sub(age_us),
                            encoded_us: now,
                            capture_known: true,
                            keyframe: false,
                            data: packet.clone(),
                        };
                        seq += 1;
                        timestamp += FRAME_SAMPLES as u64;
                        let bytes = frame.data.len() as u64;
                        let sent = shared.send_to_all(frame);
                        c.audio_bytes_sent.fetch_add(bytes * sent, Relaxed);
                    }
                    pcm.drain(..consumed);
                }
            },
        );
        match worker {
            Ok(worker) => Ok(AudioSend { input, worker }),
            Err(e) => {
                input.stop();
                Err(e)
            }
        }
    }

    pub(crate) fn stop(mut self) {
        self.worker.stop();
        self.input.stop();
    }
}

/// One remote's audio as the playout thread sees it.
pub(crate) struct RemoteAudio {
    pub remote: Arc<Remote>,
    pub frames: Receiver<EncodedFrame>,
    pub feedback: Receiver<Feedback>,
}

enum TrackCommand {
    Add(RemoteAudio),
    Remove(u32),
    /// Play into another device from now on.
    Output(AudioFormat, HeapProd<f32>),
}

/// A remote's jitter buffer and decoder inside the playout thread.
struct Track {
    input: RemoteAudio,
    jb: JitterBuffer,
    decoder: OpusDecoder,
    expected_seq: Option<u64>,
    first: bool,
    /// Decoded (and time-stretched) audio not mixed yet; the next mixed
    /// frame takes its first [`FRAME_SAMPLES`].
    out: Vec<f32>,
    /// This track's part of the next mixed frame, once decided: `Some(true)`
    /// audio at the head of `out`, `Some(false)` nothing to add.
    ready: Option<bool>,
    pcm: [f32; FRAME_SAMPLES],
    /// Jitter buffer totals already added to the counters.
    counted: crate::jitter::JitterStats,
    /// The sender's capture time less the RTP time (both microseconds),
    /// from the last packet whose capture time is known.
    capture_offset_us: Option<i64>,
    /// Capture to playout of the frames played, smoothed, and when it was
    /// last measured.
    latency_us: Option<f64>,
    latency_at_us: u64,
    sync: LipSync,
    /// Decoded frames in a row that were quiet.
    quiet_run: u32,
    /// Whether sync may add delay (`EngineConfig::lip_sync`); measured
    /// either way.
    lip_sync: bool,
}

/// Decoded audio a track holds at most: a frame, a lengthened one, and a
/// partial one left over.
const TRACK_OUT_CAPACITY: usize = 4 * FRAME_SAMPLES;

impl Track {
    fn receive(&mut self, shared: &Shared, now: u64) {
        let (c, rc) = (&shared.counters, &self.input.remote.c);
        for f in self.input.frames.try_iter() {
            let bytes = f.data.len() as u64;
            for (total, n) in [
                (&c.audio_packets_received, 1),
                (&rc.audio_packets_received, 1),
                (&c.audio_bytes_received, bytes),
                (&rc.audio_bytes_received, bytes),
            ] {
                total.fetch_add(n, Relaxed);
            }
            if let Some(e) = self.expected_seq.filter(|&e| f.seq > e) {
                c.audio_packets_lost.fetch_add(f.seq - e, Relaxed);
                rc.audio_packets_lost.fetch_add(f.seq - e, Relaxed);
            }
            self.expected_seq = Some(self.expected_seq.map_or(f.seq + 1, |e| e.max(f.seq + 1)));
            if f.capture_known {
                self.capture_offset_us = Some(f.capture_us as i64 - rtp_us(f.timestamp) as i64);
            }
            self.jb.insert(f.timestamp, f.data, now);
        }
    }

    /// Decides this track's next frame, which starts playing at
    /// `playout_us`. `false`: wait for a missing packet.
    fn prepare(&mut self, shared: &Shared, may_wait: bool, playout_us: u64) -> bool {
        if self.ready.is_some() {
            return true;
        }
        while self.out.len() < FRAME_SAMPLES {
            match self.decode_next(shared, may_wait, playout_us) {
                Some(true) => {}
                Some(false) => {
                    // Nothing more to play: what is left (a stretched
                    // frame's tail) plays, followed by silence.
                    if self.out.is_empty() {
                        self.ready = Some(false);
                        return true;
                    }
                    self.out.resize(FRAME_SAMPLES, 0.0);
                }
                None => return false,
            }
        }
        self.ready = Some(true);
        true
    }

    /// Decodes the jitter buffer's next frame into `out`, time-stretched as
    /// it asks. `Some(false)`: nothing to play; `None`: wait. What `out`
    /// holds already plays from `playout_us`.
    fn decode_next(&mut self, shared: &Shared, may_wait: bool, playout_us: u64) -> Option<bool> {
        let pcm = &mut self.pcm;
        let mut how = Stretch::Keep;
        let result = match self.jb.pop(may_wait) {
            Playout::Wait => return None,
            Playout::Idle => return Some(false),
            Playout::Packet(p) => {
                how = self.jb.stretch();
                if let (Some(offset), Some(ts)) =
                    (self.capture_offset_us, self.jb.played_timestamp())
                {
                    let heard = playout_us + self.out.len() as u64 * 1_000 / 48;
                    let captured = (rtp_us(ts) as i64 + offset).max(0) as u64;
                    let latency = heard.saturating_sub(captured) as f64;
                    let smoothed = self
                        .latency_us
                        .map_or(latency, |l| l + (latency - l) / LATENCY_SMOOTHING);
                    self.latency_us = Some(smoothed);
                    self.latency_at_us = shared.clock.now_us();
                }
                self.decoder.decode(&p, pcm).map(|_| true)
            }
            Playout::Fec(next) => self.decoder.recover(&next, pcm).map(|_| false),
            Playout::Conceal => self.decoder.conceal(pcm).map(|_| false),
        };
        let (c, rc) = (&shared.counters, &self.input.remote.c);
        match result {
            Ok(true) => {
                c.audio_frames_decoded.fetch_add(1, Relaxed);
                rc.audio_frames_decoded.fetch_add(1, Relaxed);
                if std::mem::take(&mut self.first) {
                    let uid = self.input.remote.uid;
                    emit(&shared.events_tx, Event::FirstRemoteAudioFrame { uid });
                }
            }
            Ok(false) => {}
            Err(_) => {
                // A packet Opus rejects: play concealment instead of a hole.
                c.audio_decode_errors.fetch_add(1, Relaxed);
                how = Stretch::Keep;
                if self.decoder.conceal(pcm).is_err() {
                    pcm.fill(0.0);
                }
            }
        }
        self.quiet_run = if pcm.iter().all(|s| s.abs() < QUIET_PEAK) {
            self.quiet_run.saturating_add(1)
        } else {
            0
        };
        let paused = self.quiet_run >= QUIET_RUN;
        match how {
            Stretch::InsertIfQuiet if paused => {
                self.out.extend_from_slice(pcm);
                if self.decoder.conceal(pcm).is_err() {
                    pcm.fill(0.0);
                }
                self.out.extend_from_slice(pcm);
                self.jb.sync_stepped();
                c.audio_samples_inserted
                    .fetch_add(FRAME_SAMPLES as u64, Relaxed);
            }
            Stretch::DropIfQuiet if paused => {
                self.jb.sync_stepped();
                c.audio_samples_removed
                    .fetch_add(FRAME_SAMPLES as u64, Relaxed);
            }
            Stretch::Keep | Stretch::InsertIfQuiet | Stretch::DropIfQuiet => {
                self.out.extend_from_slice(pcm)
            }
            Stretch::Shorten => {
                let n = stretch::shorten(pcm, &mut self.out) as u64;
                c.audio_samples_removed.fetch_add(n, Relaxed);
            }
            Stretch::Lengthen => {
                let n = stretch::lengthen(pcm, &mut self.out) as u64;
                c.audio_samples_inserted.fetch_add(n, Relaxed);
            }
        }
        Some(true)
    }

    /// Adds what the jitter buffer counted since the last call.
    fn count(&mut self, shared: &Shared) {
        let s = self.jb.stats();
        let (c, rc) = (&shared.counters, &self.input.remote.c);
        let before = std::mem::replace(&mut self.counted, s);
        let add = |a: &AtomicU64, now: u64, then: u64| {
            a.fetch_add(now.saturating_sub(then), Relaxed);
        };
        add(
            &c.audio_fec_recovered,
            s.fec_recovered,
            before.fec_recovered,
        );
        add(
            &rc.audio_fec_recovered,
            s.fec_recovered,
            before.fec_recovered,
        );
        add(&c.audio_concealed, s.concealed, before.concealed);
        add(&rc.audio_concealed, s.concealed, before.concealed);
        add(&c.audio_late, s.late, before.late);
        add(&c.audio_playout_underruns, s.underruns, before.underruns);
        add(&c.audio_frames_removed, s.discarded, before.discarded);
        rc.audio_jitter_us.store(self.jb.jitter_us(), Relaxed);
        rc.audio_buffer_ms
            .store(self.jb.depth() as u64 * FRAME_SAMPLES as u64 / 48, Relaxed);
    }

    /// Lip sync: compares this remote's audio and video delays (every
    /// [`crate::control::sync::UPDATE_US`]) and applies the extra delays.
    /// Returns (audio latency, offset), once both are measured.
    fn sync(&mut self, now: u64) -> Option<(u64, i64)> {
        let rc = &self.input.remote.c;
        let fresh = |at: u64| at > 0 && now.saturating_sub(at) < SYNC_STALE_US;
        // As it will be once the steps waiting for a pause are made.
        let pending = self.jb.sync_pending_us();
        let audio = self
            .latency_us
            .filter(|_| fresh(self.latency_at_us))
            .map(|l| (l as i64 + pending).max(0) as u64);
        let video =
            fresh(rc.video_latency_at_us.load(Relaxed)).then(|| rc.video_latency_us.load(Relaxed));
        self.sync.set_max_audio_us(if self.lip_sync {
            self.jb.max_extra_delay_us()
        } else {
            0
        });
        let d = self.sync.update(now, audio, video);
        self.jb.set_extra_delay_us(d.audio_us);
        rc.video_sync_delay_us.store(d.video_us, Relaxed);
        // What plays now: the steps still waiting are not heard yet.
        Some((
            (audio? as i64 - pending).max(0) as u64,
            self.sync.offset_us()? + pending,
        ))
    }
}

/// An RTP timestamp at 48 kHz in microseconds.
fn rtp_us(timestamp: u64) -> u64 {
    timestamp * 1_000 / 48
}

/// The speaker: every remote's audio through its own jitter buffer and
/// decoder, mixed into one output. Also applies each remote's transport
/// feedback (keyframe requests, bandwidth estimates, path statistics).
pub(crate) struct AudioRecv {
    output: Box<dyn AudioOutput>,
    /// The session this playout serves (what a speaker failure fails).
    stream: Stream,
    tracks: Sender<TrackCommand>,
    worker: Worker,
}

/// The estimates of every remote to the rate controller: the narrowest
/// path and the lossiest decide, since one encoding goes to all.
fn apply_estimates(shared: &Shared, tracks: &[Track]) {
    let narrowest = tracks
        .iter()
        .map(|t| t.input.remote.c.bandwidth_estimate_bps.load(Relaxed))
        .filter(|&e| e > 0)
        .min();
    // With RED on towards any remote (or not reported yet: it starts on),
    // each audio packet carries copies of the frames before it too.
    let red = |t: &Track| t.input.remote.c.audio_redundancy.load(Relaxed);
    shared.audio_redundancy.store(
        !tracks.is_empty() && tracks.iter().all(|t| red(t) == REDUNDANCY_ON),
        Relaxed,
    );
    let copies = if tracks.iter().any(|t| red(t) != REDUNDANCY_OFF) {
        RED_FRAMES_PER_PACKET
    } else {
        1
    };
    let audio_bps =
        shared.counters.audio_target_bps.load(Relaxed) * copies + AUDIO_PACKET_OVERHEAD_BPS;
    if let Some(bps) = narrowest {
        shared.bandwidth_estimate_bps.store(bps, Relaxed);
        shared.steer_rate(|rate, now| {
            rate.set_audio_bps(audio_bps.min(u32::MAX as u64) as u32);
            rate.on_estimate(now, bps)
        });
    }
    let worst_loss = tracks
        .iter()
        .map(|t| t.input.remote.c.egress_loss_ppm.load(Relaxed))
        .max();
    if let Some(ppm) = worst_loss {
        shared.steer_rate(|rate, now| rate.on_loss(now, ppm as f32 / 1e6));
    }
}

impl AudioRecv {
    pub(crate) fn start(
        mut output: Box<dyn AudioOutput>,
        jitter: JitterConfig,
        video_delay: VideoDelay,
        lip_sync: bool,
        record: Option<&std::path::Path>,
        stream: Stream,
        shared: Arc<Shared>,
    ) -> Result<Self> {
        let recorder = match record {
            Some(path) => Some(Recorder::start(
                "media-record-audio",
                RECORD_QUEUE,
                &shared.events_tx,
                WavSink::create(path)?,
                |wav: &mut WavSink, frame: [f32; FRAME_SAMPLES]| wav.write(&frame),
                |mut wav| wav.finish(),
            )?),
            None => None,
        };
        let (mut format, mut ring) =
            output.start(device_error_callback(&shared.events_tx, stream))?;
        let (tracks_tx, commands) = unbounded::<TrackCommand>();
        // Keep about 40 ms queued at the device.
        let low_water_of = |f: AudioFormat| (f.sample_rate as usize * f.channels as usize) / 25;
        let mut low_water = low_water_of(format);
        let worker = Worker::spawn(
            "media-audio-recv",
            &shared.events_tx.clone(),
            stream,
            move |stop| {
                let mut tracks: Vec<Track> = Vec::new();
                let mut resampler = Resampler::new(48_000, format.sample_rate);
                let (mut resampled, mut interleaved) = (Vec::new(), Vec::new());
                let mut mixed = [0f32; FRAME_SAMPLES];
                while !stop.load(Relaxed) {
                    std::thread::sleep(TICK);
                    for cmd in commands.try_iter() {
                        match cmd {
                            TrackCommand::Add(input) => match OpusDecoder::new() {
                                Ok(decoder) => tracks.push(Track {
                                    input,
                                    sync: LipSync::new(SyncDelays {
                                        // Set from the buffer's room.
                                        audio_us: 0,
                                        video_us: match video_delay {
                                            _ if !lip_sync => 0,
                                            VideoDelay::Immediate => 0,
                                            _ => MAX_VIDEO_SYNC_US,
                                        },
                                    }),
                                    capture_offset_us: None,
                                    latency_us: None,
                                    latency_at_us: 0,
                                    quiet_run: 0,
                                    lip_sync,
                                    jb: JitterBuffer::new(jitter),
                                    decoder,
                                    expected_seq: None,
                                    first: true,
                                    out: Vec::with_capacity(TRACK_OUT_CAPACITY),
                                    ready: None,
                                    pcm: [0.0; FRAME_SAMPLES],
                                    counted: Default::default(),
                                }),
                                Err(e) => emit_error(&shared.events_tx, &e),
                            },
                            TrackCommand::Remove(uid) => {
                                tracks.retain(|t| t.input.remote.uid != uid)
                            }
                            TrackCommand::Output(f, r) => {
                                (format, ring) = (f, r);
                                low_water = low_water_of(format);
                                resampler = Resampler::new(48_000, format.sample_rate);
                            }
                        }
                    }
                    let mut estimates_changed = false;
                    for t in &tracks {
                        for fb in t.input.feedback.try_iter() {
                            estimates_changed |= t.input.remote.apply_feedback(&shared, fb);
                        }
                    }
                    if estimates_changed {
                        apply_estimates(&shared, &tracks);
                    }
                    let now = shared.clock.now_us();
                    for t in tracks.iter_mut() {
                        t.receive(&shared, now);
                    }
                    while ring.occupied_len() < low_water {
                        // With 20 ms still queued a missing packet can be waited for.
                        let may_wait = ring.occupied_len() >= low_water / 2;
                        // What is queued at the device plays first.
                        let samples_per_s =
                            format.sample_rate as u64 * format.channels.max(1) as u64;
                        let playout_us = shared.clock.now_us()
                            + ring.occupied_len() as u64 * 1_000_000 / samples_per_s.max(1);
                        let mut all_ready = true;
                        for t in tracks.iter_mut() {
                            all_ready &= t.prepare(&shared, may_wait, playout_us);
                        }
                        if !all_ready {
                            break;
                        }
                        let mut any = false;
                        mixed.fill(0.0);
                        for t in tracks.iter_mut() {
                            if t.ready.take() == Some(true) {
                                any = true;
                                for (m, s) in mixed.iter_mut().zip(&t.out[..FRAME_SAMPLES]) {
                                    *m += s;
                                }
                                t.out.drain(..FRAME_SAMPLES);
                            }
                        }
                        if !any {
                            break;
                        }
                        if tracks.len() > 1 {
                            for m in mixed.iter_mut() {
                                *m = m.clamp(-1.0, 1.0);
                            }
                        }
                        shared.far_end.played(&mixed);
                        if let Some(rec) = &recorder {
                            if !rec.write(mixed) {
                                shared
                                    .counters
                                    .audio_frames_not_recorded
                                    .fetch_add(1, Relaxed);
                            }
                        }
                        resampled.clear();
                        interleaved.clear();
                        resampler.process(&mixed, &mut resampled);
                        upmix(&resampled, format.channels, &mut interleaved);
                        ring.push_slice(&interleaved);
                    }
                    for t in tracks.iter_mut() {
                        t.count(&shared);
                    }
                    // Engine-wide, the remote whose audio and video are
                    // furthest apart.
                    let now = shared.clock.now_us();
                    let mut worst: Option<(u64, i64, SyncDelays)> = None;
                    for t in tracks.iter_mut() {
                        if let Some((latency, offset)) = t.sync(now) {
                            if worst.is_none_or(|(_, o, _)| offset.abs() > o.abs()) {
                                worst = Some((latency, offset, t.sync.delays()));
                            }
                        }
                    }
                    let c = &shared.counters;
                    let (latency, offset, d) = worst.unwrap_or_default();
                    c.audio_latency_us.store(latency, Relaxed);
                    c.av_sync_offset_us.store(offset as u64, Relaxed);
                    c.audio_sync_delay_us.store(d.audio_us, Relaxed);
                    c.video_sync_delay_us.store(d.video_us, Relaxed);
                    // The engine-wide figure is the worst remote's.
                    let jitter = tracks.iter().map(|t| t.jb.jitter_us()).max().unwrap_or(0);
                    shared.audio_jitter_us.store(jitter, Relaxed);
                }
            },
        );
        match worker {
            Ok(worker) => Ok(AudioRecv {
                output,
                stream,
                tracks: tracks_tx,
                worker,
            }),
            Err(e) => {
                output.stop();
                Err(e)
            }
        }
    }

    /// Starts playing (and taking feedback from) a remote.
    pub(crate) fn add(&self, input: RemoteAudio) {
        let _ = self.tracks.send(TrackCommand::Add(input));
    }

    /// Stops playing a remote.
    pub(crate) fn remove(&self, uid: u32) {
        let _ = self.tracks.send(TrackCommand::Remove(uid));
    }

    /// Moves playout to another speaker without disturbing the remotes'
    /// jitter buffers and decoders. On failure the current one stays.
    pub(crate) fn switch_output(
        &mut self,
        mut output: Box<dyn AudioOutput>,
        shared: &Arc<Shared>,
    ) -> Result<()> {
        let (format, ring) = output.start(device_error_callback(&shared.events_tx, self.stream))?;
        let _ = self.tracks.send(TrackCommand::Output(format, ring));
        let mut old = std::mem::replace(&mut self.output, output);
        old.stop();
        Ok(())
    }

    pub(crate) fn stop(mut self) {
        self.worker.stop();
        self.output.stop();
    }
}
