//! A 1v1 call where both hosts own their devices, as phone apps do: each
//! pushes its camera's frames and its microphone's 16-bit PCM and pulls
//! its speaker's, at its own rate and channel count (alice records at
//! 44.1 kHz stereo and plays at 16 kHz mono; bob records at 16 kHz mono and
//! plays at 48 kHz stereo). Each side must hear the other's tone at its
//! frequency and level and see the other's test pattern with a high PSNR.
//! Also: the rest of the engine's refusals for host audio.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver};
use media::analysis::{psnr_i420, rms_dbfs, tone_frequency};
use media::devices::external::{PixelFormat, PushedFrame};
use media::devices::pattern::{self, Stamp};
use media::signal::{CallEvent, ServerConfig, ServerState};
use media::transport::webrtc::WebRtcConfig;
use media::{
    AudioInputConfig, AudioOutputConfig, Engine, EngineConfig, ErrorKind, Event, FrameSource,
    LocalServer, VideoConfig, VideoFrame, VideoInputConfig,
};

const W: u32 = 320;
const H: u32 = 180;

/// One phone: its formats, its tone and what it received.
struct Host {
    name: &'static str,
    engine: Arc<Engine>,
    events: Receiver<Event>,
    mic: (u32, u16),
    speaker: (u32, u16),
    tone_hz: f64,
    /// Everything pulled for the speaker, interleaved.
    heard: Arc<Mutex<Vec<i16>>>,
    /// Remote frames, as decoded.
    seen: Arc<Mutex<Vec<VideoFrame>>>,
}

fn host(
    server: &LocalServer,
    name: &'static str,
    mic: (u32, u16),
    speaker: (u32, u16),
    tone_hz: f64,
) -> Host {
    let engine = Engine::new(EngineConfig {
        audio_input: AudioInputConfig::External {
            sample_rate: mic.0,
            channels: mic.1,
        },
        audio_output: AudioOutputConfig::External {
            sample_rate: speaker.0,
            channels: speaker.1,
        },
        video_input: VideoInputConfig::External,
        video: VideoConfig {
            width: W,
            height: H,
            fps: 15,
            bitrate_bps: 500_000,
            ..Default::default()
        },
        stats_interval_ms: 0,
        ..EngineConfig::default()
    })
    .unwrap();
    let (tx, events) = unbounded();
    engine.set_event_handler(Some(Box::new(move |e: &Event| drop(tx.send(e.clone())))));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    engine.set_frame_handler(Some(Box::new(move |source, frame| {
        if matches!(source, FrameSource::Remote(_)) {
            s.lock().unwrap().push(frame.clone());
        }
    })));
    let token = server.token(name, Duration::from_secs(600)).unwrap();
    let mut cfg = ServerConfig::new(&server.url(), "demo", name, &token);
    cfg.network = WebRtcConfig {
        host_ips: vec!["127.0.0.1".parse().unwrap()],
        ..Default::default()
    };
    engine.connect_server(cfg).unwrap();
    Host {
        name,
        engine: Arc::new(engine),
        events,
        mic,
        speaker,
        tone_hz,
        heard: Arc::new(Mutex::new(Vec::new())),
        seen,
    }
}

fn wait(h: &Host, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match h
            .events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(e) if pred(&e) => return e,
            Ok(_) => {}
            Err(_) => panic!("{}: timed out waiting for {what}", h.name),
        }
    }
}

fn pattern_frame(n: u32) -> VideoFrame {
    let mut buf = vec![0; VideoFrame::i420_len(W, H)];
    pattern::render(
        W,
        H,
        Stamp {
            frame_number: n,
            capture_us: 0,
        },
        &mut buf,
    );
    VideoFrame::new(W, H, buf, 0)
}

/// The host's audio device: every 10 ms of its own clock it records a
/// chunk of its tone (-20 dBFS RMS, the same in every channel) and plays
/// a chunk it pulls. Paced like a sound card; runs until `stop`.
fn run_audio_device(h: &Host, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let (engine, heard) = (h.engine.clone(), h.heard.clone());
    let (mic, speaker, tone_hz) = (h.mic, h.speaker, h.tone_hz);
    std::thread::spawn(move || {
        let amp = 0.1 * 2f64.sqrt() * 32_767.0;
        let mut phase = 0.0f64;
        let step = 2.0 * std::f64::consts::PI * tone_hz / mic.0 as f64;
        let mic_chunk = (mic.0 / 100) as usize;
        let mut out = vec![0i16; (speaker.0 / 100) as usize * speaker.1 as usize];
        let start = Instant::now();
        let mut ticks = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let mut pcm = Vec::with_capacity(mic_chunk * mic.1 as usize);
            for _ in 0..mic_chunk {
                let s = (amp * phase.sin()) as i16;
                phase = (phase + step) % (2.0 * std::f64::consts::PI);
                pcm.extend(std::iter::repeat_n(s, mic.1 as usize));
            }
            engine.push_audio(&pcm).unwrap();
            engine.pull_audio(&mut out).unwrap();
            heard.lock().unwrap().extend_from_slice(&out);
            ticks += 1;
            let due = start + Duration::from_millis(10 * ticks);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
    })
}

/// The host's camera: pattern frames as NV12 at 15 fps until `stop`.
fn run_camera(h: &Host, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let engine = h.engine.clone();
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut n = 0u32;
        while !stop.load(Ordering::Relaxed) {
            let f = pattern_frame(n);
            // I420 chroma interleaved into one NV12 plane.
            let uv: Vec<u8> = f
                .u()
                .iter()
                .zip(f.v())
                .flat_map(|(&u, &v)| [u, v])
                .collect();
            engine
                .push_video_frame(&PushedFrame {
                    format: PixelFormat::Nv12,
                    width: W,
                    height: H,
                    planes: [f.y(), &uv, &[]],
                    strides: [f.y_stride(), W as usize, 0],
                    rotation: 0,
                    timestamp_us: Some(n as u64 * 66_666),
                })
                .unwrap();
            n += 1;
            let due = start + Duration::from_micros(66_666 * n as u64);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
    })
}

/// Checks what `h` heard from a peer sending `tone_hz`, and saw.
fn check_received(h: &Host, tone_hz: f64) {
    let heard = h.heard.lock().unwrap().clone();
    let (rate, ch) = (h.speaker.0, h.speaker.1 as usize);
    // Every channel carries the same mono mix.
    let frames: Vec<[i16; 2]> = heard.chunks_exact(ch).map(|f| [f[0], f[ch - 1]]).collect();
    assert!(
        frames.iter().all(|f| f[0] == f[1]),
        "{}: channels differ",
        h.name
    );
    let mono: Vec<f32> = frames.iter().map(|f| f[0] as f32 / 32_768.0).collect();
    // The last two seconds: connected, buffers settled.
    let steady = &mono[mono.len().saturating_sub(2 * rate as usize)..];
    let f = tone_frequency(steady, rate).unwrap_or(0.0);
    let level = rms_dbfs(steady);
    let stats = h.engine.stats();
    eprintln!(
        "{}: heard {f:.1} Hz at {level:.1} dBFS ({} Hz x{ch}); {} silent frames pulled, {} pushed frames dropped; jitter buffer: {} concealed, {} underruns, {} removed of {} decoded",
        h.name,
        rate,
        stats.audio_pull_silent_frames,
        stats.audio_push_dropped_frames,
        stats.audio_concealed,
        stats.audio_playout_underruns,
        stats.audio_frames_removed,
        stats.audio_frames_decoded
    );
    assert!(
        (f - tone_hz).abs() < 2.0,
        "{}: heard {f:.1} Hz, sent {tone_hz}",
        h.name
    );
    assert!(
        (level + 20.0).abs() <= 3.0,
        "{}: level {level:.1} dBFS",
        h.name
    );
    assert!(
        stats.audio_pull_silent_frames > 0,
        "silence before the call counted"
    );

    let seen = h.seen.lock().unwrap().clone();
    let mut worst = f64::INFINITY;
    let mut stamped = 0;
    for f in &seen {
        assert_eq!((f.width, f.height), (W, H));
        if let Some(s) = pattern::read_stamp(f.width, f.height, f.y(), f.y_stride()) {
            stamped += 1;
            worst = worst.min(psnr_i420(f, &pattern_frame(s.frame_number)));
        }
    }
    eprintln!(
        "{}: {} frames seen, {stamped} with a readable stamp, worst PSNR {worst:.1} dB",
        h.name,
        seen.len()
    );
    assert!(stamped >= 30, "{}: {stamped} pattern frames", h.name);
    assert!(worst > 30.0, "{}: worst PSNR {worst:.1} dB", h.name);
}

#[test]
fn a_call_between_two_hosts_that_push_and_pull_their_own_media() {
    let server = LocalServer::start("127.0.0.1:0", "demo", "secret").unwrap();
    let alice = host(&server, "alice", (44_100, 2), (16_000, 1), 440.0);
    let bob = host(&server, "bob", (16_000, 1), (48_000, 2), 660.0);
    for h in [&alice, &bob] {
        wait(h, "registered", |e| {
            *e == Event::Server(ServerState::Connected)
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut devices = Vec::new();
    for h in [&alice, &bob] {
        devices.push(run_audio_device(h, stop.clone()));
        devices.push(run_camera(h, stop.clone()));
    }
    alice.engine.call("bob", true).unwrap();
    let Event::Call(CallEvent::Incoming { call_id, .. }) = wait(&bob, "incoming", |e| {
        matches!(e, Event::Call(CallEvent::Incoming { .. }))
    }) else {
        unreachable!()
    };
    bob.engine.accept(&call_id).unwrap();
    wait(&alice, "accepted", |e| {
        matches!(e, Event::Call(CallEvent::Accepted { .. }))
    });
    // Media flows both ways, then four more seconds of call.
    let deadline = Instant::now() + Duration::from_secs(20);
    while [&alice, &bob]
        .iter()
        .any(|h| h.engine.stats().audio_frames_decoded < 50 || h.seen.lock().unwrap().len() < 5)
    {
        assert!(Instant::now() < deadline, "media did not flow both ways");
        std::thread::sleep(Duration::from_millis(50));
    }
    let heard_before: Vec<usize> = [&alice, &bob]
        .iter()
        .map(|h| h.heard.lock().unwrap().len())
        .collect();
    std::thread::sleep(Duration::from_secs(4));
    alice.engine.hangup().unwrap();
    stop.store(true, Ordering::Relaxed);
    for d in devices {
        d.join().unwrap();
    }
    for (h, before) in [&alice, &bob].iter().zip(heard_before) {
        // Four seconds of the host's clock went by in pulls.
        let pulled = h.heard.lock().unwrap().len() - before;
        let expected = 4 * h.speaker.0 as usize * h.speaker.1 as usize;
        assert!(pulled >= expected * 9 / 10, "{}: pulled {pulled}", h.name);
    }
    check_received(&alice, 660.0);
    check_received(&bob, 440.0);
}

#[test]
fn host_audio_is_refused_where_it_does_not_fit() {
    // Formats outside 8..=48 kHz, mono / stereo.
    for (input, output) in [
        ((96_000, 1), (48_000, 1)),
        ((48_000, 1), (7_999, 1)),
        ((16_000, 3), (48_000, 1)),
        ((16_000, 1), (48_000, 0)),
    ] {
        let e = Engine::new(EngineConfig {
            audio_input: AudioInputConfig::External {
                sample_rate: input.0,
                channels: input.1,
            },
            audio_output: AudioOutputConfig::External {
                sample_rate: output.0,
                channels: output.1,
            },
            ..EngineConfig::fake()
        })
        .err()
        .unwrap_or_else(|| panic!("{input:?} / {output:?} accepted"));
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }
    // An engine with a tone and a null speaker has no host audio.
    let engine = Engine::new(EngineConfig::fake()).unwrap();
    let mut out = [0i16; 160];
    assert_eq!(
        engine.push_audio(&[0; 160]).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    assert_eq!(
        engine.pull_audio(&mut out).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    // Switched to host audio at run time, it has; and then a half frame
    // of stereo is refused.
    engine
        .set_audio_input(AudioInputConfig::External {
            sample_rate: 32_000,
            channels: 2,
        })
        .unwrap();
    engine.push_audio(&[0; 640]).unwrap();
    assert_eq!(
        engine.push_audio(&[0; 641]).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert!(engine
        .set_audio_output(AudioOutputConfig::External {
            sample_rate: 8_000,
            channels: 9,
        })
        .is_err());
    // Switched back: no host audio again.
    engine.set_audio_input(AudioInputConfig::Silence).unwrap();
    assert_eq!(
        engine.push_audio(&[0; 160]).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
}
