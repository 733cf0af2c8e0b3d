//! The audio stages. Send: microphone ring → mono 48 kHz → Opus → transport
//! ("media-audio-send"). Receive: transport → jitter buffer → Opus decode
//! (with FEC and concealment) → speaker ring ("media-audio-recv"). Both
//! threads wake every 5 ms; the speaker ring's fill level is the playout
//! clock, so audio follows the device's own clock.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Receiver;
use ringbuf::traits::{Consumer, Observer, Producer};

use super::events::{emit, Event, Stream, StreamState};
use super::Shared;
use crate::codec::opus::{OpusDecoder, OpusEncoder, OpusSettings, FRAME_SAMPLES};
use crate::devices::audio::{AudioInput, AudioOutput};
use crate::devices::resample::{downmix, upmix, Resampler};
use crate::error::{Error, Result};
use crate::frame::{EncodedFrame, MediaKind};
use crate::jitter::{JitterBuffer, JitterConfig, Playout};
use crate::transport::Feedback;

const TICK: Duration = Duration::from_millis(5);

/// A running thread with a stop flag.
pub(crate) struct Worker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    pub(crate) fn spawn(
        name: &str,
        body: impl FnOnce(Arc<AtomicBool>) + Send + 'static,
    ) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(flag))
            .map_err(|e| Error::internal(format!("spawn {name}: {e}")))?;
        Ok(Worker {
            stop,
            thread: Some(thread),
        })
    }

    pub(crate) fn stop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn device_error_callback(shared: &Arc<Shared>, stream: Stream) -> crate::devices::ErrorCallback {
    let events = shared.events_tx.clone();
    Arc::new(move |e: Error| {
        emit(
            &events,
            Event::Error {
                kind: e.kind(),
                message: e.message().to_string(),
            },
        );
        emit(
            &events,
            Event::StateChanged {
                stream,
                state: StreamState::Failed,
            },
        );
    })
}

/// Microphone → encoder → transport.
pub(crate) struct AudioSend {
    input: Box<dyn AudioInput>,
    worker: Worker,
}

impl AudioSend {
    pub(crate) fn start(
        mut input: Box<dyn AudioInput>,
        settings: OpusSettings,
        shared: Arc<Shared>,
    ) -> Result<Self> {
        let mut encoder = OpusEncoder::new(settings)?;
        let (format, mut ring) = input.start(device_error_callback(&shared, Stream::LocalAudio))?;
        let worker = Worker::spawn("media-audio-send", move |stop| {
            let mut raw = vec![0f32; 4096];
            let (mut mono, mut pcm) = (Vec::new(), Vec::new());
            let mut resampler = Resampler::new(format.sample_rate, 48_000);
            let mut packet = Vec::new();
            let (mut seq, mut timestamp) = (0u64, 0u64);
            let c = &shared.counters;
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
                let mut consumed = 0;
                while pcm.len() - consumed >= FRAME_SAMPLES {
                    let frame = &mut pcm[consumed..consumed + FRAME_SAMPLES];
                    consumed += FRAME_SAMPLES;
                    c.audio_frames_captured.fetch_add(1, Relaxed);
                    if shared.audio_muted.load(Relaxed) {
                        frame.fill(0.0);
                    }
                    if let Err(e) = encoder.encode(frame, &mut packet) {
                        emit(
                            &shared.events_tx,
                            Event::Error {
                                kind: e.kind(),
                                message: e.message().to_string(),
                            },
                        );
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
                        keyframe: false,
                        data: packet.clone(),
                    };
                    seq += 1;
                    timestamp += FRAME_SAMPLES as u64;
                    if let Some(t) = shared.transport() {
                        c.audio_bytes_sent
                            .fetch_add(frame.data.len() as u64, Relaxed);
                        t.send(frame);
                    }
                }
                pcm.drain(..consumed);
            }
        });
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

/// Applies what the transport reports to the shared state.
fn apply_feedback(shared: &Shared, fb: Feedback, audio_bps: u32) {
    match fb {
        Feedback::KeyframeRequest => shared.keyframe_wanted.store(true, Relaxed),
        Feedback::BitrateEstimate(bps) => {
            shared.bandwidth_estimate_bps.store(bps as u64, Relaxed);
            // Video gets what audio (plus ~10 % packet overhead) leaves; the
            // video stage clamps it to the configured bounds.
            let video = (bps as u64 * 9 / 10).saturating_sub(audio_bps as u64);
            shared.target_video_bps.store(video, Relaxed);
        }
        Feedback::Connection(state) => emit(&shared.events_tx, Event::Connection(state)),
        Feedback::NetworkStats(n) => {
            let down = shared
                .quality
                .lock()
                .map(|mut q| q.update(&n))
                .unwrap_or(None);
            if let Some((tx, rx)) = down {
                emit(&shared.events_tx, Event::NetworkQuality { tx, rx });
            }
            if let Some(rtt) = n.rtt_us {
                shared.rtt_us.store(rtt, Relaxed);
            }
            if let Some(l) = n.egress_loss {
                shared
                    .egress_loss_ppm
                    .store((l.clamp(0.0, 1.0) * 1e6) as u64, Relaxed);
            }
            if let Some(l) = n.ingress_loss {
                shared
                    .ingress_loss_ppm
                    .store((l.clamp(0.0, 1.0) * 1e6) as u64, Relaxed);
            }
        }
        Feedback::NacksSent(n) => shared.video_nacks_sent.store(n, Relaxed),
    }
}

/// Transport → jitter buffer → decoder → speaker. Also applies transport
/// feedback (keyframe requests, bandwidth estimates) to the shared state.
pub(crate) struct AudioRecv {
    output: Box<dyn AudioOutput>,
    worker: Worker,
}

impl AudioRecv {
    pub(crate) fn start(
        mut output: Box<dyn AudioOutput>,
        jitter: JitterConfig,
        audio_bps: u32,
        frames: Receiver<EncodedFrame>,
        feedback: Receiver<Feedback>,
        shared: Arc<Shared>,
    ) -> Result<Self> {
        let mut decoder = OpusDecoder::new()?;
        let (format, mut ring) = output.start(device_error_callback(&shared, Stream::EchoTest))?;
        // Keep about 40 ms queued at the device.
        let low_water = (format.sample_rate as usize * format.channels as usize) / 25;
        let worker = Worker::spawn("media-audio-recv", move |stop| {
            let mut jb = JitterBuffer::new(jitter);
            let mut resampler = Resampler::new(48_000, format.sample_rate);
            let (mut resampled, mut interleaved) = (Vec::new(), Vec::new());
            let mut pcm = [0f32; FRAME_SAMPLES];
            let mut expected_seq: Option<u64> = None;
            let mut first = true;
            let c = &shared.counters;
            while !stop.load(Relaxed) {
                std::thread::sleep(TICK);
                for fb in feedback.try_iter() {
                    apply_feedback(&shared, fb, audio_bps);
                }
                let now = shared.clock.now_us();
                for f in frames.try_iter() {
                    c.audio_packets_received.fetch_add(1, Relaxed);
                    c.audio_bytes_received
                        .fetch_add(f.data.len() as u64, Relaxed);
                    match expected_seq {
                        Some(e) if f.seq > e => {
                            c.audio_packets_lost.fetch_add(f.seq - e, Relaxed);
                        }
                        _ => {}
                    }
                    expected_seq = Some(expected_seq.map_or(f.seq + 1, |e| e.max(f.seq + 1)));
                    jb.insert(f.timestamp, f.data, now);
                }
                while ring.occupied_len() < low_water {
                    // With 20 ms still queued a missing packet can be waited for.
                    let may_wait = ring.occupied_len() >= low_water / 2;
                    let result = match jb.pop(may_wait) {
                        Playout::Idle | Playout::Wait => break,
                        Playout::Packet(p) => decoder.decode(&p, &mut pcm).map(|_| true),
                        Playout::Fec(next) => decoder.recover(&next, &mut pcm).map(|_| false),
                        Playout::Conceal => decoder.conceal(&mut pcm).map(|_| false),
                    };
                    match result {
                        Ok(real) => {
                            if real {
                                c.audio_frames_decoded.fetch_add(1, Relaxed);
                                if std::mem::take(&mut first) {
                                    emit(&shared.events_tx, Event::FirstRemoteAudioFrame);
                                }
                            }
                        }
                        Err(_) => {
                            // A packet Opus rejects: play concealment instead of a hole.
                            c.audio_decode_errors.fetch_add(1, Relaxed);
                            if decoder.conceal(&mut pcm).is_err() {
                                pcm.fill(0.0);
                            }
                        }
                    }
                    resampled.clear();
                    interleaved.clear();
                    resampler.process(&pcm, &mut resampled);
                    upmix(&resampled, format.channels, &mut interleaved);
                    ring.push_slice(&interleaved);
                }
                let s = jb.stats();
                c.audio_fec_recovered.store(s.fec_recovered, Relaxed);
                c.audio_concealed.store(s.concealed, Relaxed);
                c.audio_late.store(s.late, Relaxed);
                c.audio_playout_underruns.store(s.underruns, Relaxed);
                shared.audio_jitter_us.store(jb.jitter_us(), Relaxed);
            }
        });
        match worker {
            Ok(worker) => Ok(AudioRecv { output, worker }),
            Err(e) => {
                output.stop();
                Err(e)
            }
        }
    }

    pub(crate) fn stop(mut self) {
        self.worker.stop();
        self.output.stop();
    }
}
