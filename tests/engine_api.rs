//! The Rust API's promises: idempotent start / stop, drop while running,
//! events, mute, bitrate bounds, recovery from video loss, clear errors.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use media::transport::impairment::Impairment;
use media::{
    AudioOutputConfig, Engine, EngineConfig, ErrorKind, Event, FrameSource, Stream, StreamState,
    VideoConfig, VideoInputConfig,
};

fn small() -> EngineConfig {
    EngineConfig {
        video: VideoConfig {
            width: 320,
            height: 180,
            fps: 30,
            bitrate_bps: 300_000,
            ..Default::default()
        },
        stats_interval_ms: 200,
        ..EngineConfig::fake()
    }
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn starting_and_stopping_twice_and_dropping_while_running_are_safe() {
    let engine = Engine::new(small()).unwrap();
    engine.stop_echo_test();
    engine.stop_local_audio();
    engine.stop_local_preview();
    engine.start_local_preview().unwrap();
    engine.start_local_preview().unwrap();
    engine.start_local_audio().unwrap();
    engine.start_local_audio().unwrap();
    engine.start_echo_test().unwrap();
    engine.start_echo_test().unwrap();
    assert!(engine.echo_test_running());
    wait_for("decoded video", || engine.stats().video_frames_decoded > 5);
    // The echo test did not start the local streams, so it leaves them running.
    engine.stop_echo_test();
    engine.stop_echo_test();
    let before = engine.stats().video_frames_captured;
    wait_for("preview still running", || {
        engine.stats().video_frames_captured > before + 3
    });
    engine.start_echo_test().unwrap();
    drop(engine); // everything still running
}

#[test]
fn events_report_states_first_frames_and_stats() {
    let engine = Engine::new(small()).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    engine.set_event_handler(Some(Box::new(move |e: &Event| {
        sink.lock().unwrap().push(e.clone())
    })));
    engine.start_echo_test().unwrap();
    let has = |f: &dyn Fn(&Event) -> bool| events.lock().unwrap().iter().any(f);
    wait_for("first frames and a stats event", || {
        has(&|e| {
            matches!(
                e,
                Event::FirstRemoteVideoFrame {
                    uid: 0,
                    width: 320,
                    height: 180
                }
            )
        }) && has(&|e| matches!(e, Event::FirstLocalVideoFrame { .. }))
            && has(&|e| matches!(e, Event::FirstRemoteAudioFrame { .. }))
            && has(
                &|e| matches!(e, Event::Stats(s) if s.video_frames_rendered > 0 && s.video_send_bitrate_bps > 0),
            )
    });
    engine.stop_echo_test();
    wait_for("stopped states", || {
        has(&|e| {
            *e == Event::StateChanged {
                stream: Stream::EchoTest,
                state: StreamState::Stopped,
            }
        })
    });
    let ev = events.lock().unwrap();
    let pos = |want: &Event| ev.iter().position(|e| e == want).unwrap();
    let started = pos(&Event::StateChanged {
        stream: Stream::EchoTest,
        state: StreamState::Started,
    });
    let stopped = pos(&Event::StateChanged {
        stream: Stream::EchoTest,
        state: StreamState::Stopped,
    });
    assert!(started < stopped);
    assert!(
        !ev.iter().any(|e| matches!(e, Event::Error { .. })),
        "{ev:?}"
    );
}

#[test]
fn muting_video_stops_sending_but_not_the_preview() {
    let engine = Engine::new(small()).unwrap();
    let local = Arc::new(AtomicU64::new(0));
    let l = local.clone();
    engine.set_frame_handler(Some(Box::new(move |source, _| {
        if source == FrameSource::Local {
            l.fetch_add(1, Ordering::Relaxed);
        }
    })));
    engine.start_echo_test().unwrap();
    wait_for("video flowing", || engine.stats().video_frames_encoded > 5);
    engine.mute_local_video(true);
    // At most the one frame already inside the encoder may still come out.
    let encoded = engine.stats().video_frames_encoded;
    let previews = local.load(Ordering::Relaxed);
    wait_for("preview frames while muted", || {
        local.load(Ordering::Relaxed) > previews + 10
    });
    assert!(
        engine.stats().video_frames_encoded <= encoded + 1,
        "frames were encoded while muted"
    );
    let keyframes = engine.stats().video_keyframes_sent;
    engine.mute_local_video(false);
    wait_for("video again", || {
        engine.stats().video_frames_encoded > encoded + 5
    });
    assert!(
        engine.stats().video_keyframes_sent > keyframes,
        "unmuting starts with a keyframe"
    );
}

#[test]
fn video_loss_is_repaired_by_keyframe_requests() {
    let config = EngineConfig {
        loopback: Impairment {
            video_loss: 0.1,
            seed: 3,
            ..Default::default()
        },
        ..small()
    };
    let engine = Engine::new(config).unwrap();
    engine.start_echo_test().unwrap();
    wait_for("150 frames through a lossy path", || {
        engine.stats().video_frames_rendered >= 150
    });
    let s = engine.stats();
    assert!(s.video_frames_lost > 0, "{s:#?}");
    assert!(
        s.video_keyframe_requests > 0 && s.video_keyframes_sent > 1,
        "{s:#?}"
    );
    assert_eq!(
        s.video_decode_errors, 0,
        "loss is caught before the decoder sees a broken reference: {s:#?}"
    );
}

#[test]
fn bad_configuration_and_missing_inputs_are_clear_errors() {
    let bad = |c: EngineConfig| Engine::new(c).err().map(|e| e.kind());
    assert_eq!(
        bad(EngineConfig {
            video: VideoConfig {
                width: 0,
                ..Default::default()
            },
            ..small()
        }),
        Some(ErrorKind::InvalidArgument)
    );
    assert_eq!(
        bad(EngineConfig {
            video: VideoConfig {
                fps: 0,
                ..Default::default()
            },
            ..small()
        }),
        Some(ErrorKind::InvalidArgument)
    );
    assert_eq!(
        bad(EngineConfig {
            loopback: Impairment {
                audio_loss: 1.5,
                ..Default::default()
            },
            ..small()
        }),
        Some(ErrorKind::InvalidArgument)
    );

    let engine = Engine::new(small()).unwrap();
    assert_eq!(
        engine.set_video_bitrate(1).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    engine.set_video_bitrate(500_000).unwrap();

    let engine = Engine::new(EngineConfig {
        video_input: VideoInputConfig::Y4mFile("/nonexistent/x.y4m".into()),
        ..small()
    })
    .unwrap();
    assert_eq!(
        engine.start_local_preview().unwrap_err().kind(),
        ErrorKind::NotFound
    );

    // Output files in a missing folder are refused up front ...
    for config in [
        EngineConfig {
            audio_output: AudioOutputConfig::WavFile("/nonexistent/dir/out.wav".into()),
            ..small()
        },
        EngineConfig {
            record_remote_video: Some("/nonexistent/dir/remote.y4m".into()),
            ..small()
        },
    ] {
        let e = Engine::new(config).err().expect("refused");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.message().contains("does not exist"), "{e}");
    }
    // ... one that cannot be written (here: a folder) fails when it opens.
    let engine = Engine::new(EngineConfig {
        audio_output: AudioOutputConfig::WavFile(std::env::temp_dir()),
        ..small()
    })
    .unwrap();
    assert_eq!(engine.start_echo_test().unwrap_err().kind(), ErrorKind::Io);
    assert!(!engine.echo_test_running());
    // Numbers that would flood the host or never end.
    for (interval, delay_us) in [(1, 0), (99, 0), (1000, u64::from(u32::MAX) * 1000)] {
        let mut config = small();
        config.stats_interval_ms = interval;
        config.loopback.delay_us = delay_us;
        let e = Engine::new(config).err().expect("refused");
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    }
}

#[test]
fn the_engine_can_be_dropped_from_its_own_event_handler() {
    let slot: Arc<Mutex<Option<Engine>>> = Arc::new(Mutex::new(None));
    let engine = Engine::new(small()).unwrap();
    let (tx, rx) = crossbeam_channel::bounded(1);
    let held = slot.clone();
    engine.set_event_handler(Some(Box::new(move |e: &Event| {
        if matches!(e, Event::FirstRemoteVideoFrame { .. }) {
            let taken = held.lock().unwrap().take();
            drop(taken);
            let _ = tx.send(());
        }
    })));
    *slot.lock().unwrap() = Some(engine);
    slot.lock()
        .unwrap()
        .as_ref()
        .unwrap()
        .start_echo_test()
        .unwrap();
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the handler dropped the engine without hanging");
    assert!(slot.lock().unwrap().is_none(), "dropped inside the handler");
}

/// Waits until `cond` holds for the engine's stats; fails after 10 s.
fn wait_stats(engine: &Engine, what: &str, cond: impl Fn(&media::Stats) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond(&engine.stats()) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:?}",
            engine.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_audio_interruption_and_the_background_pause_media_without_ending_the_session() {
    let engine = Engine::new(small()).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    engine.set_event_handler(Some(Box::new(move |e: &Event| {
        ev.lock().unwrap().push(e.clone())
    })));
    engine.start_echo_test().unwrap();
    wait_stats(&engine, "audio and video", |s| {
        s.audio_frames_encoded > 20 && s.video_frames_decoded > 10
    });

    // A phone call takes the audio devices: the microphone stops, video goes on.
    engine.interrupt_audio();
    engine.interrupt_audio();
    assert!(engine.audio_interrupted());
    let at = engine.stats();
    wait_stats(&engine, "video during the interruption", |s| {
        s.video_frames_decoded > at.video_frames_decoded + 15
    });
    let during = engine.stats();
    assert!(
        during.audio_frames_encoded <= at.audio_frames_encoded + 2,
        "no audio captured while interrupted: {} -> {}",
        at.audio_frames_encoded,
        during.audio_frames_encoded
    );
    assert!(engine.echo_test_running(), "the session goes on");
    assert!(events.lock().unwrap().iter().any(|e| matches!(
        e,
        Event::StateChanged {
            stream: Stream::LocalAudio,
            state: StreamState::Stopped
        }
    )));
    // Starting the microphone meanwhile waits for the end of the interruption.
    engine.start_local_audio().unwrap();
    engine.resume_audio().unwrap();
    assert!(!engine.audio_interrupted());
    wait_stats(&engine, "audio after the interruption", |s| {
        s.audio_frames_encoded > during.audio_frames_encoded + 20
            && s.audio_frames_decoded > during.audio_frames_decoded + 20
    });
    engine.resume_audio().unwrap();

    // In the background no video is sent; audio goes on.
    engine.set_background(true);
    let at = engine.stats();
    wait_stats(&engine, "audio in the background", |s| {
        s.audio_frames_decoded > at.audio_frames_decoded + 25
    });
    let during = engine.stats();
    assert!(
        during.video_frames_encoded <= at.video_frames_encoded + 2,
        "no video sent in the background: {} -> {}",
        at.video_frames_encoded,
        during.video_frames_encoded
    );
    // Back in the foreground it starts again with a keyframe.
    engine.set_background(false);
    wait_stats(&engine, "video in the foreground", |s| {
        s.video_frames_encoded > during.video_frames_encoded + 10
            && s.video_keyframes_sent > during.video_keyframes_sent
    });
    engine.stop_echo_test();
}

#[test]
fn what_the_speaker_plays_can_be_recorded_whatever_the_output() {
    let dir = std::env::temp_dir().join(format!("media-record-audio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wav = dir.join("heard.wav");
    // A null speaker (as a real one would be): the recording still holds
    // the echo test's tone.
    let engine = Engine::new(EngineConfig {
        audio_output: AudioOutputConfig::Null,
        record_remote_audio: Some(wav.clone()),
        ..small()
    })
    .unwrap();
    engine.start_echo_test().unwrap();
    wait_for("a second of returned audio", || {
        engine.stats().audio_frames_decoded >= 50
    });
    engine.stop_echo_test();
    let s = engine.stats();
    drop(engine);
    let heard = media::devices::audio::read_wav_mono_48k(&wav).unwrap();
    assert!(heard.len() >= 48_000, "{} samples", heard.len());
    let f = media::analysis::tone_frequency(&heard[4_800..], 48_000).unwrap();
    assert!((f - 440.0).abs() < 4.0, "{f:.1} Hz");
    assert_eq!(s.audio_frames_not_recorded, 0);
    // A recording into a missing folder is refused up front.
    let e = Engine::new(EngineConfig {
        record_remote_audio: Some("/nonexistent/dir/heard.wav".into()),
        ..small()
    })
    .err()
    .expect("refused");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    std::fs::remove_dir_all(&dir).ok();
}
