//! Two engines call each other over real UDP sockets on loopback through
//! the WebRTC transport (ICE, DTLS-SRTP, RTP): each receives the other's
//! tone and test pattern.

mod common;

use common::wait_for;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use media::analysis::tone_frequency;
use media::devices::audio::read_wav_mono_48k;
use media::devices::pattern;
use media::engine::events::ConnectionState;
use media::transport::webrtc::{Role, Signal, WebRtcConfig};
use media::{AudioInputConfig, AudioOutputConfig, Engine, EngineConfig, Event, VideoConfig};

struct Side {
    engine: Arc<Engine>,
    wav: PathBuf,
    stamps: Arc<Mutex<Vec<u32>>>,
    /// Sizes of the remote frames, in order.
    sizes: Arc<Mutex<Vec<(u32, u32)>>>,
    connected: Arc<AtomicU64>,
    /// (tx, rx) network quality reports.
    quality: Arc<Mutex<Vec<(u8, u8)>>>,
}

fn side(name: &str, tone: f32) -> Side {
    side_sized(name, tone, (320, 180), 400_000)
}

fn side_sized(name: &str, tone: f32, size: (u32, u32), bitrate_bps: u32) -> Side {
    let dir = std::env::temp_dir().join(format!("media-webrtc-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("heard.wav");
    let config = EngineConfig {
        audio_input: AudioInputConfig::Tone {
            freq_hz: tone,
            level_dbfs: -20.0,
        },
        audio_output: AudioOutputConfig::WavFile(wav.clone()),
        video: VideoConfig {
            width: size.0,
            height: size.1,
            fps: 30,
            bitrate_bps,
            ..Default::default()
        },
        ..EngineConfig::fake()
    };
    let engine = Arc::new(Engine::new(config).unwrap());
    let stamps = Arc::new(Mutex::new(Vec::new()));
    let s = stamps.clone();
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let z = sizes.clone();
    engine.set_frame_handler(Some(Box::new(move |source, f| {
        if source.is_remote() {
            z.lock().unwrap().push((f.width, f.height));
            if let Some(stamp) = pattern::read_stamp(f.width, f.height, f.y(), f.y_stride()) {
                s.lock().unwrap().push(stamp.frame_number);
            }
        }
    })));
    let connected = Arc::new(AtomicU64::new(0));
    let quality = Arc::new(Mutex::new(Vec::new()));
    let (c, q) = (connected.clone(), quality.clone());
    engine.set_event_handler(Some(Box::new(move |e: &Event| match e {
        Event::Connection {
            state: ConnectionState::Connected,
            ..
        } => drop(c.fetch_add(1, Ordering::Relaxed)),
        Event::NetworkQuality { tx, rx, .. } => q.lock().unwrap().push((*tx, *rx)),
        _ => {}
    })));
    Side {
        engine,
        wav,
        stamps,
        sizes,
        connected,
        quality,
    }
}

/// `a` calls `b` over 127.0.0.1, each handing its signals to the other.
fn call_over_loopback(a: &Side, b: &Side) {
    let loopback = WebRtcConfig {
        host_ips: vec!["127.0.0.1".parse().unwrap()],
        ..Default::default()
    };
    let (to_a, to_b) = (Arc::downgrade(&a.engine), Arc::downgrade(&b.engine));
    b.engine
        .start_peer(
            Role::Answerer,
            loopback.clone(),
            Box::new(move |s| drop(to_a.upgrade().map(|a| a.handle_peer_signal(s)))),
        )
        .unwrap();
    a.engine
        .start_peer(
            Role::Offerer,
            loopback,
            Box::new(move |s| drop(to_b.upgrade().map(|b| b.handle_peer_signal(s)))),
        )
        .unwrap();
}

#[test]
fn two_engines_exchange_audio_and_video_over_udp() {
    let (a, b) = (side("a", 440.0), side("b", 660.0));
    let loopback = WebRtcConfig {
        host_ips: vec!["127.0.0.1".parse().unwrap()],
        ..Default::default()
    };
    // Signaling: each side's messages are handed to the other engine.
    let to_a = Arc::downgrade(&a.engine);
    let to_b = Arc::downgrade(&b.engine);
    b.engine
        .start_peer(
            Role::Answerer,
            loopback.clone(),
            Box::new(move |s: Signal| {
                if let Some(a) = to_a.upgrade() {
                    a.handle_peer_signal(s).unwrap();
                }
            }),
        )
        .unwrap();
    a.engine
        .start_peer(
            Role::Offerer,
            loopback,
            Box::new(move |s: Signal| {
                if let Some(b) = to_b.upgrade() {
                    b.handle_peer_signal(s).unwrap();
                }
            }),
        )
        .unwrap();
    assert!(a
        .engine
        .peer_local_addrs()
        .iter()
        .all(|addr| addr.ip().is_loopback()));

    wait_for("connection on both sides", Duration::from_secs(20), || {
        a.connected.load(Ordering::Relaxed) > 0 && b.connected.load(Ordering::Relaxed) > 0
    });
    // The user's cap holds against the estimates that come in after it.
    a.engine.set_video_bitrate(300_000).unwrap();
    let estimates_before = a.engine.stats().bandwidth_estimate_bps;
    wait_for("90 remote frames each way", Duration::from_secs(30), || {
        a.stamps.lock().unwrap().len() >= 90 && b.stamps.lock().unwrap().len() >= 90
    });
    wait_for("2 s of audio each way", Duration::from_secs(30), || {
        a.engine.stats().audio_frames_decoded >= 100 && b.engine.stats().audio_frames_decoded >= 100
    });
    wait_for("network quality reports", Duration::from_secs(30), || {
        a.quality
            .lock()
            .unwrap()
            .iter()
            .any(|&(tx, rx)| tx > 0 && rx > 0)
            && !b.quality.lock().unwrap().is_empty()
    });
    // A clean loopback path rates excellent or good.
    assert!(
        a.quality
            .lock()
            .unwrap()
            .iter()
            .filter(|q| q.0 > 0)
            .all(|&(tx, rx)| tx <= 2 && rx <= 2),
        "{:?}",
        a.quality.lock().unwrap()
    );
    let (sa, sb) = (a.engine.stats(), b.engine.stats());
    eprintln!(
        "a: estimate {} -> {} bit/s, video target {} bit/s (capped at 300000); b: target {}",
        estimates_before,
        sa.bandwidth_estimate_bps,
        sa.video_target_bitrate_bps,
        sb.video_target_bitrate_bps
    );
    assert!(sa.bandwidth_estimate_bps > 0, "estimates came in");
    assert!(
        sa.video_target_bitrate_bps <= 300_000,
        "the cap held: {}",
        sa.video_target_bitrate_bps
    );
    assert!(sb.video_target_bitrate_bps > 300_000, "b has no cap");
    // Latencies of received frames count from the sender's capture (its
    // clock mapped through RTCP sender reports), not from their arrival.
    for (name, rx, tx) in [("a", &sa, &sb), ("b", &sb, &sa)] {
        let (enc, net, dec, e2e) = (
            tx.video_encode_latency.p50_us,
            rx.video_transport_latency.p50_us,
            rx.video_decode_latency.p50_us,
            rx.video_end_to_end_latency.p50_us,
        );
        eprintln!(
            "{name} receiving: sender's encode {enc} us, capture to arrival {net} us, decode {dec} us, capture to frame callback {e2e} us"
        );
        assert!(
            net >= enc / 2,
            "{name}: capture to arrival {net} us < encode {enc} us"
        );
        assert!(e2e >= net + dec / 2, "{name}: end to end {e2e} us");
        assert!(e2e < 1_000_000, "{name}: end to end {e2e} us");
    }
    a.engine.stop_peer();
    b.engine.stop_peer();

    for (side, other_tone, s) in [(&a, 660.0, sa), (&b, 440.0, sb)] {
        let stamps = side.stamps.lock().unwrap().clone();
        assert!(
            stamps.windows(2).all(|w| w[0] < w[1]),
            "frames in order: {stamps:?}"
        );
        assert_eq!(s.video_decode_errors, 0, "{s:#?}");
        let audio = read_wav_mono_48k(&side.wav).unwrap();
        let start = audio
            .iter()
            .position(|x| x.abs() > 0.01)
            .expect("the peer's tone arrived");
        let heard = &audio[start + 9_600..audio.len() - 4_800];
        let f = tone_frequency(heard, 48_000).unwrap();
        assert!(
            (f - other_tone).abs() < other_tone * 0.01,
            "heard {f:.1} Hz, expected {other_tone}"
        );
        assert!(s.rtt_us > 0 || s.bandwidth_estimate_bps > 0 || s.video_frames_decoded > 0);
    }
}

#[test]
fn a_peer_session_excludes_the_echo_test_and_bad_signals_fail_cleanly() {
    let s = side("c", 440.0);
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    s.engine.set_event_handler(Some(Box::new(move |e: &Event| {
        ev.lock().unwrap().push(e.clone())
    })));
    assert!(
        s.engine
            .handle_peer_signal(Signal::Candidate("x".into()))
            .is_err(),
        "no peer yet"
    );
    let cfg = WebRtcConfig {
        host_ips: vec!["127.0.0.1".parse().unwrap()],
        ..Default::default()
    };
    s.engine
        .start_peer(Role::Answerer, cfg.clone(), Box::new(|_| {}))
        .unwrap();
    assert_eq!(
        s.engine.start_echo_test().unwrap_err().kind(),
        media::ErrorKind::InvalidState
    );
    assert_eq!(
        s.engine
            .start_peer(Role::Answerer, cfg, Box::new(|_| {}))
            .unwrap_err()
            .kind(),
        media::ErrorKind::InvalidState
    );
    // Garbage where an offer should be: the connection fails, nothing panics.
    s.engine
        .handle_peer_signal(Signal::Candidate("candidate:garbage".into()))
        .unwrap();
    s.engine
        .handle_peer_signal(Signal::Offer("v=0 this is not sdp".into()))
        .unwrap();
    wait_for("failed state", Duration::from_secs(10), || {
        events.lock().unwrap().contains(&Event::Connection {
            uid: 0,
            state: ConnectionState::Failed,
        })
    });
    s.engine.stop_peer();
    s.engine.start_echo_test().unwrap();
}

#[test]
fn a_stun_server_yields_a_trickled_server_reflexive_candidate() {
    use media::transport::stun;
    // A stand-in STUN server on loopback that reports every client as
    // 127.0.0.2 (as a NAT would report a public address).
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let stun_addr = server.local_addr().unwrap();
    let answered = std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        let (n, from) = server.recv_from(&mut buf).expect("a binding request");
        let tid: [u8; 12] = buf[8..20].try_into().unwrap();
        assert!(stun::is_response_to(&buf[..n], &tid));
        let mapped = std::net::SocketAddr::new("127.0.0.2".parse().unwrap(), from.port());
        server
            .send_to(&stun::binding_response(tid, mapped), from)
            .unwrap();
        mapped
    });
    let s = side("d", 440.0);
    let (tx, rx) = crossbeam_channel::unbounded();
    let cfg = WebRtcConfig {
        host_ips: vec!["127.0.0.1".parse().unwrap()],
        stun_server: Some(stun_addr),
        ..Default::default()
    };
    s.engine
        .start_peer(Role::Offerer, cfg, Box::new(move |sig| drop(tx.send(sig))))
        .unwrap();
    let mapped = answered.join().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let srflx = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left).expect("a trickled candidate") {
            Signal::Candidate(c) if c.contains("typ srflx") => break c,
            _ => {}
        }
    };
    assert!(
        srflx.contains(&format!("127.0.0.2 {}", mapped.port())),
        "{srflx}"
    );
    s.engine.stop_peer();
}

#[test]
fn a_call_without_a_microphone_goes_on_receive_only_for_audio() {
    let a = side("e", 440.0);
    let b = side("f", 660.0);
    // Replace a's microphone with one that does not exist.
    a.engine
        .set_audio_input(media::AudioInputConfig::Device("no-such-microphone".into()))
        .unwrap();
    let errors = Arc::new(Mutex::new(Vec::new()));
    let errs = errors.clone();
    a.engine.set_event_handler(Some(Box::new(move |e: &Event| {
        if let Event::Error { kind, message } = e {
            errs.lock().unwrap().push((*kind, message.clone()));
        }
    })));
    call_over_loopback(&a, &b);
    wait_for(
        "a's video at b and b's audio at a",
        Duration::from_secs(30),
        || b.stamps.lock().unwrap().len() >= 30 && a.engine.stats().audio_frames_decoded >= 50,
    );
    let errors = errors.lock().unwrap().clone();
    assert!(
        errors
            .iter()
            .any(|(k, m)| *k == media::ErrorKind::NotFound && m.contains("without a microphone")),
        "{errors:?}"
    );
    assert_eq!(a.engine.stats().audio_frames_encoded, 0);
    a.engine.stop_peer();
    b.engine.stop_peer();
}

#[test]
fn microphone_and_speaker_switch_during_a_call() {
    let (a, b) = (side("g", 440.0), side("h", 660.0));
    call_over_loopback(&a, &b);
    let decoded = |s: &Side| s.engine.stats().audio_frames_decoded;
    wait_for("1 s of a's audio at b", Duration::from_secs(30), || {
        decoded(&b) >= 50
    });

    // a picks another microphone (a 880 Hz tone) mid-call ...
    a.engine
        .set_audio_input(AudioInputConfig::Tone {
            freq_hz: 880.0,
            level_dbfs: -20.0,
        })
        .unwrap();
    let mark = decoded(&b);
    wait_for("a's new microphone at b", Duration::from_secs(30), || {
        decoded(&b) >= mark + 25
    });
    // ... and b another speaker; a speaker that cannot be opened is
    // refused and the current one keeps playing.
    let bad = AudioOutputConfig::WavFile("/nonexistent/dir/out.wav".into());
    assert!(b.engine.set_audio_output(bad).is_err());
    let second = b.wav.with_file_name("second.wav");
    b.engine
        .set_audio_output(AudioOutputConfig::WavFile(second.clone()))
        .unwrap();
    let mark = decoded(&b);
    wait_for("2 s into b's new speaker", Duration::from_secs(30), || {
        decoded(&b) >= mark + 100
    });
    b.engine.stop_peer();
    a.engine.stop_peer();

    let first = read_wav_mono_48k(&b.wav).unwrap();
    let start = first.iter().position(|s| s.abs() > 0.01).expect("audio") + 4_800;
    let f = tone_frequency(&first[start..start + 24_000], 48_000).unwrap();
    assert!(
        (f - 440.0).abs() < 2.0,
        "the first speaker heard a's first tone: {f}"
    );
    let heard = read_wav_mono_48k(&second).unwrap();
    assert!(heard.len() >= 48_000, "{} samples", heard.len());
    let f = tone_frequency(&heard[4_800..], 48_000).unwrap();
    assert!(
        (f - 880.0).abs() < 2.0,
        "the new speaker heard a's new microphone: {f}"
    );
}

#[test]
fn a_speaker_that_fails_in_a_call_fails_the_call_not_the_echo_test() {
    let a = side("g", 440.0);
    let b = side("h", 660.0);
    // a's speaker writes to a device that is always full.
    a.engine
        .set_audio_output(AudioOutputConfig::WavFile("/dev/full".into()))
        .unwrap();
    let (tx, rx) = crossbeam_channel::unbounded();
    a.engine.set_event_handler(Some(Box::new(move |e: &Event| {
        if matches!(e, Event::StateChanged { .. } | Event::Error { .. }) {
            let _ = tx.send(e.clone());
        }
    })));
    call_over_loopback(&a, &b);
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut error, mut failed) = (None, None);
    while failed.is_none() {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Event::Error { message, .. }) => error = Some(message),
            Ok(Event::StateChanged {
                stream,
                state: media::StreamState::Failed,
            }) => failed = Some(stream),
            Ok(_) => {}
            Err(_) => panic!("no failure reported; error {error:?}"),
        }
    }
    let error = error.expect("an error came before the state change");
    assert!(error.contains("/dev/full"), "{error}");
    assert_eq!(failed, Some(media::Stream::Call));
    a.engine.stop_peer();
    b.engine.stop_peer();
}

#[test]
fn a_low_bitrate_steps_the_sender_down_the_resolution_ladder() {
    let a = side_sized("i", 440.0, (640, 360), 800_000);
    let b = side("j", 660.0);
    call_over_loopback(&a, &b);
    wait_for("a's 360p video at b", Duration::from_secs(30), || {
        b.sizes.lock().unwrap().contains(&(640, 360))
    });
    // 100 kbit/s cannot carry 360p (or 270p) at 30 fps, even for this
    // simple picture (its encoder uses about half of 360p's nominal 345
    // kbit/s, so 150 kbit/s would): a steps down to 180p, and b's frames
    // follow.
    a.engine.set_video_bitrate(100_000).unwrap();
    wait_for("180p at b", Duration::from_secs(10), || {
        b.sizes.lock().unwrap().last() == Some(&(320, 180))
    });
    let s = a.engine.stats();
    assert_eq!(
        (s.video_send_width, s.video_send_height, s.video_send_fps),
        (320, 180, 30)
    );
    // Room again: back up, one rung at a time, each after 5 s.
    a.engine.set_video_bitrate(800_000).unwrap();
    wait_for("360p at b again", Duration::from_secs(30), || {
        b.sizes.lock().unwrap().last() == Some(&(640, 360))
    });
    let sizes = b.sizes.lock().unwrap().clone();
    let mut steps: Vec<(u32, u32)> = sizes.clone();
    steps.dedup();
    eprintln!("sizes b saw: {steps:?}");
    assert_eq!(steps, vec![(640, 360), (320, 180), (480, 270), (640, 360)]);
    a.engine.stop_peer();
    b.engine.stop_peer();
}

#[test]
fn a_second_without_remote_video_is_counted_as_a_freeze() {
    let a = side("k", 440.0);
    let b = side("l", 660.0);
    call_over_loopback(&a, &b);
    wait_for("60 of a's frames at b", Duration::from_secs(30), || {
        b.stamps.lock().unwrap().len() >= 60
    });
    let before = b.engine.stats();
    // a stops sending video for a second (the stimulus: a gap of known
    // length), then sends again.
    a.engine.mute_local_video(true);
    std::thread::sleep(Duration::from_secs(1));
    a.engine.mute_local_video(false);
    let resumed_at = b.stamps.lock().unwrap().len();
    wait_for("a's video at b again", Duration::from_secs(10), || {
        b.stamps.lock().unwrap().len() >= resumed_at + 30
    });
    let after = b.engine.stats();
    let remote = &b.engine.remote_stats()[0];
    eprintln!(
        "freezes {} -> {} ({} -> {} ms); remote {} ({} ms)",
        before.video_freezes,
        after.video_freezes,
        before.video_frozen_ms,
        after.video_frozen_ms,
        remote.video_freezes,
        remote.video_frozen_ms
    );
    // The pause is one freeze of about a second (a machine this busy may
    // add a short one of its own).
    let added = after.video_freezes - before.video_freezes;
    assert!((1..=3).contains(&added), "{added} freezes");
    let ms = after.video_frozen_ms - before.video_frozen_ms;
    assert!((900..=3_000).contains(&ms), "{ms} ms frozen");
    assert_eq!(remote.video_freezes, after.video_freezes);
    a.engine.stop_peer();
    b.engine.stop_peer();
}
