//! Echo cancellation with real devices: PulseAudio null sinks behind cpal.
//! Alice's engine owns the system microphone and speaker with the default
//! voice processing (`Auto`: echo cancellation, noise suppression and
//! high-pass for system microphones). Her
//! speaker is `sink_a` and her microphone `sink_a.monitor`: whatever she
//! plays comes straight back into her microphone, at full level and after
//! PulseAudio's latency — the worst loudspeaker a phone could have. Bob is
//! a host-fed engine in the same process that talks (a speech-like
//! signal) and records what he hears.
//!
//! The same call runs twice, with Alice's processing off and on; the echo
//! Bob hears of his own voice must be ≥ 40 dB lower with it on, once the
//! canceller has converged (8 s), in all but at most two of the following
//! seconds (a loaded machine can make the canceller re-align once), and
//! ≥ 20 dB lower overall. scripts/pulse.sh starts the daemon.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{accept_incoming, connect_on_loopback, next_event, start_pulse};
use crossbeam_channel::Receiver;
use media::analysis::{rms_dbfs, talker};
use media::signal::ServerState;
use media::{
    AudioInputConfig, AudioOutputConfig, Engine, EngineConfig, Event, LocalServer,
    VideoInputConfig, VoiceProcessing,
};

const RATE: usize = 48_000;
const CHUNK: usize = RATE / 100;

fn connect(server: &LocalServer, name: &str, config: EngineConfig) -> (Engine, Receiver<Event>) {
    let engine = Engine::new(EngineConfig {
        stats_interval_ms: 0,
        video_input: VideoInputConfig::External,
        ..config
    })
    .unwrap();
    let events = connect_on_loopback(&engine, server, name);
    next_event(&events, &format!("{name} registered"), |e| {
        *e == Event::Server(ServerState::Connected)
    });
    (engine, events)
}

/// One call of `seconds` from Bob to Alice; what Bob heard, per 10 ms chunk.
fn call(server: &LocalServer, alice_voice: VoiceProcessing, seconds: usize) -> Vec<f32> {
    let (alice, alice_events) = connect(
        server,
        "alice",
        EngineConfig {
            audio_input: AudioInputConfig::Default,
            audio_output: AudioOutputConfig::Default,
            voice_processing: alice_voice,
            ..EngineConfig::default()
        },
    );
    let (bob, _bob_events) = connect(
        server,
        "bob",
        EngineConfig {
            audio_input: AudioInputConfig::External {
                sample_rate: RATE as u32,
                channels: 1,
            },
            audio_output: AudioOutputConfig::External {
                sample_rate: RATE as u32,
                channels: 1,
            },
            voice_processing: VoiceProcessing::OFF,
            ..EngineConfig::default()
        },
    );
    let bob = Arc::new(bob);
    let voice = talker(seconds as f64 + 30.0, 220.0, 4.0, 1);
    let heard = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let device = {
        let (bob, heard, stop) = (bob.clone(), heard.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut speaker = vec![0i16; CHUNK];
            let start = Instant::now();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let at = (n * CHUNK) % (voice.len() - CHUNK);
                let mic: Vec<i16> = voice[at..at + CHUNK]
                    .iter()
                    .map(|&s| (s * 32_767.0) as i16)
                    .collect();
                bob.push_audio(&mic).unwrap();
                bob.pull_audio(&mut speaker).unwrap();
                heard
                    .lock()
                    .unwrap()
                    .extend(speaker.iter().map(|&s| s as f32 / 32_768.0));
                n += 1;
                let due = start + Duration::from_millis(10 * n as u64);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
        })
    };
    bob.call("alice", false).unwrap();
    accept_incoming(&alice, &alice_events);
    // From when Bob first hears anything (his echo or silence-level noise
    // above the digital floor), `seconds` of call.
    let deadline = Instant::now() + Duration::from_secs(30);
    while alice.stats().audio_frames_decoded < 10 {
        assert!(Instant::now() < deadline, "Bob's voice did not reach Alice");
        std::thread::sleep(Duration::from_millis(20));
    }
    let from = heard.lock().unwrap().len();
    let until = from + seconds * RATE;
    let deadline = Instant::now() + Duration::from_secs(seconds as u64 + 30);
    while heard.lock().unwrap().len() < until {
        assert!(Instant::now() < deadline, "Bob's device stalled");
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    device.join().unwrap();
    let s = alice.stats();
    eprintln!(
        "alice ({alice_voice:?}): {} frames captured, {} decoded, {} concealed",
        s.audio_frames_captured, s.audio_frames_decoded, s.audio_concealed
    );
    assert!(s.audio_frames_captured > 100, "alice's microphone ran");
    let _ = bob.hangup();
    let heard = heard.lock().unwrap();
    heard[from..until].to_vec()
}

#[test]
fn a_loudspeaker_that_feeds_the_microphone_is_cancelled_by_40_db() {
    let xdg = start_pulse();
    // This test binary's only test: the process's devices are sink_a and
    // its monitor.
    std::env::set_var("XDG_RUNTIME_DIR", &xdg);
    std::env::set_var("PULSE_SINK", "sink_a");
    std::env::set_var("PULSE_SOURCE", "sink_a.monitor");

    let server = LocalServer::start("127.0.0.1:0", "demo", "secret").unwrap();
    let seconds = 15;
    let off = call(&server, VoiceProcessing::OFF, seconds);
    let on = call(&server, VoiceProcessing::Auto, seconds);
    // After 8 s of convergence, second by second: the canceller may
    // re-align once on a loaded machine (its delay estimate jumps when a
    // thread stalls), which lets a second of echo through; the others
    // must be cancelled.
    let tail = |x: &[f32]| rms_dbfs(&x[8 * RATE..]);
    let (echo, residual) = (tail(&off), tail(&on));
    let per_second: Vec<f64> = on[8 * RATE..]
        .chunks(RATE)
        .map(|c| echo - rms_dbfs(c))
        .collect();
    let cancelled = per_second.iter().filter(|&&e| e >= 40.0).count();
    eprintln!(
        "Bob hears his own voice back at {echo:.1} dBFS without processing, {residual:.1} dBFS with it: {:.1} dB; per second {:?} dB",
        echo - residual,
        per_second.iter().map(|e| e.round()).collect::<Vec<_>>()
    );
    assert!(
        echo > -45.0,
        "no echo came back without processing: {echo:.1} dBFS"
    );
    assert!(
        cancelled + 2 >= per_second.len(),
        "echo cancelled by 40 dB in only {cancelled} of {} seconds: {per_second:?}",
        per_second.len()
    );
    assert!(
        echo - residual >= 20.0,
        "echo cancelled by only {:.1} dB overall",
        echo - residual
    );
}
