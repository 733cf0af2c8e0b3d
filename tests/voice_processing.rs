//! Echo cancellation in a real call. Alice's phone plays Bob's voice on
//! its loudspeaker and its microphone hears it again 60 ms later at half
//! the level, through a simulated room: the test is Alice's sound card,
//! pulling her speaker's PCM and pushing it back, delayed, as her
//! microphone's. Without cancellation Bob would hear himself. Bob talks
//! (a speech-like signal) the whole time; after 8 s Alice talks too.
//!
//! Measured on what Bob hears: the echo of his own voice must be ≥ 40 dB
//! below the echo Alice's microphone picked up, once the canceller has
//! converged; and during double talk Bob must hear Alice's syllables.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

use common::{accept_incoming, connect_on_loopback, next_event};
use crossbeam_channel::Receiver;
use media::analysis::{correlation, level_envelope, rms_dbfs, talker};
use media::signal::{CallEvent, ServerState};
use media::{
    AudioInputConfig, AudioOutputConfig, Engine, EngineConfig, Event, LocalServer,
    VideoInputConfig, VoiceProcessing, VoiceStages,
};

const RATE: usize = 48_000;
const CHUNK: usize = RATE / 100;
/// The room: speaker to microphone.
const ECHO_DELAY: usize = 60 * RATE / 1000;
const ECHO_GAIN: f32 = 0.5;
/// When Alice starts talking, counted in Alice's device ticks after the
/// call's audio flows.
const DOUBLE_TALK_AT: usize = 8 * 100;
const RUN_TICKS: usize = 12 * 100;

fn phone(
    server: &LocalServer,
    name: &str,
    voice: VoiceProcessing,
) -> (Arc<Engine>, Receiver<Event>) {
    let engine = Engine::new(EngineConfig {
        audio_input: AudioInputConfig::External {
            sample_rate: RATE as u32,
            channels: 1,
        },
        audio_output: AudioOutputConfig::External {
            sample_rate: RATE as u32,
            channels: 1,
        },
        video_input: VideoInputConfig::External,
        voice_processing: voice,
        stats_interval_ms: 0,
        ..EngineConfig::default()
    })
    .unwrap();
    let events = connect_on_loopback(&engine, server, name);
    (Arc::new(engine), events)
}

fn to_i16(x: f32) -> i16 {
    (x.clamp(-1.0, 1.0) * 32_767.0) as i16
}

#[test]
fn the_far_end_does_not_hear_its_own_voice_back() {
    let server = LocalServer::start("127.0.0.1:0", "demo", "secret").unwrap();
    // Alice's canceller chain without gain control: AGC scales echo and
    // speech alike, so it would blur the echo measurement.
    let canceller = VoiceStages {
        gain_control: false,
        ..VoiceStages::ALL
    };
    let (alice, alice_events) = phone(&server, "alice", VoiceProcessing::Stages(canceller));
    let (bob, bob_events) = phone(&server, "bob", VoiceProcessing::OFF);
    for events in [&alice_events, &bob_events] {
        next_event(events, "registered", |e| {
            *e == Event::Server(ServerState::Connected)
        });
    }
    let bob_voice = Arc::new(talker(30.0, 220.0, 4.0, 1));
    let alice_voice = Arc::new(talker(30.0, 130.0, 3.1, 2));

    let stop = Arc::new(AtomicBool::new(false));
    // Alice's ticks since her speaker first played Bob (0: not yet).
    let alice_ticks = Arc::new(AtomicUsize::new(0));
    // Per tick of Alice's device once Bob is heard: the echo her
    // microphone picked up and her own voice, as pushed.
    let alice_echo = Arc::new(Mutex::new(Vec::<f32>::new()));
    let alice_near = Arc::new(Mutex::new(Vec::<f32>::new()));
    // What Bob's speaker played, and at which of Alice's ticks each chunk.
    let bob_heard = Arc::new(Mutex::new(Vec::<(usize, Vec<f32>)>::new()));

    let alice_device = {
        let (engine, stop, ticks) = (alice.clone(), stop.clone(), alice_ticks.clone());
        let (echo_log, near_log, voice) =
            (alice_echo.clone(), alice_near.clone(), alice_voice.clone());
        std::thread::spawn(move || {
            let mut room: VecDeque<f32> = std::iter::repeat_n(0.0, ECHO_DELAY).collect();
            let mut speaker = vec![0i16; CHUNK];
            let start = Instant::now();
            let mut n = 0u64;
            let mut heard_from = None;
            while !stop.load(Ordering::Relaxed) {
                engine.pull_audio(&mut speaker).unwrap();
                let played: Vec<f32> = speaker.iter().map(|&s| s as f32 / 32_768.0).collect();
                if heard_from.is_none() && rms_dbfs(&played) > -50.0 {
                    heard_from = Some(n);
                }
                room.extend(&played);
                let echo: Vec<f32> = room.drain(..CHUNK).map(|s| s * ECHO_GAIN).collect();
                let tick = heard_from.map_or(0, |h| (n - h) as usize);
                let near: Vec<f32> = if heard_from.is_some() && tick >= DOUBLE_TALK_AT {
                    let at = (tick - DOUBLE_TALK_AT) * CHUNK;
                    voice[at..at + CHUNK].to_vec()
                } else {
                    vec![0.0; CHUNK]
                };
                let mic: Vec<i16> = echo.iter().zip(&near).map(|(e, v)| to_i16(e + v)).collect();
                engine.push_audio(&mic).unwrap();
                if heard_from.is_some() {
                    echo_log.lock().unwrap().extend(&echo);
                    near_log.lock().unwrap().extend(&near);
                    ticks.store(tick + 1, Ordering::Relaxed);
                }
                n += 1;
                let due = start + Duration::from_millis(10 * n);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
        })
    };
    let bob_device = {
        let (engine, stop, ticks, heard) = (
            bob.clone(),
            stop.clone(),
            alice_ticks.clone(),
            bob_heard.clone(),
        );
        std::thread::spawn(move || {
            let mut speaker = vec![0i16; CHUNK];
            let start = Instant::now();
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let at = (n * CHUNK) % (bob_voice.len() - CHUNK);
                let mic: Vec<i16> = bob_voice[at..at + CHUNK]
                    .iter()
                    .map(|&s| to_i16(s))
                    .collect();
                engine.push_audio(&mic).unwrap();
                engine.pull_audio(&mut speaker).unwrap();
                let pcm = speaker.iter().map(|&s| s as f32 / 32_768.0).collect();
                heard
                    .lock()
                    .unwrap()
                    .push((ticks.load(Ordering::Relaxed), pcm));
                n += 1;
                let due = start + Duration::from_millis(10 * n as u64);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
        })
    };

    alice.call("bob", false).unwrap();
    accept_incoming(&bob, &bob_events);
    next_event(&alice_events, "accepted", |e| {
        matches!(e, Event::Call(CallEvent::Accepted { .. }))
    });
    // Until Alice's device has run RUN_TICKS ticks with Bob audible.
    let deadline = Instant::now() + Duration::from_secs(60);
    while alice_ticks.load(Ordering::Relaxed) < RUN_TICKS {
        assert!(
            Instant::now() < deadline,
            "Bob's voice did not reach Alice's speaker for {} s ({} ticks)",
            RUN_TICKS / 100,
            alice_ticks.load(Ordering::Relaxed)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    alice_device.join().unwrap();
    bob_device.join().unwrap();
    alice.hangup().unwrap();

    let echo = alice_echo.lock().unwrap().clone();
    let near = alice_near.lock().unwrap().clone();
    let heard = bob_heard.lock().unwrap().clone();
    // What Bob heard during Alice's ticks [from, to).
    let bob_during = |from: usize, to: usize| -> Vec<f32> {
        heard
            .iter()
            .filter(|(t, _)| (from..to).contains(t))
            .flat_map(|(_, pcm)| pcm.iter().copied())
            .collect()
    };
    // Converged: Alice's ticks 5 s .. 8 s (Bob alone); Bob hears them a
    // network and jitter buffer later, so his window starts 0.5 s later.
    let echo_level = rms_dbfs(&echo[5 * RATE..8 * RATE]);
    let residual_pcm = bob_during(550, DOUBLE_TALK_AT);
    let residual = rms_dbfs(&residual_pcm);
    // The residual's level in 100 ms blocks: on a loaded machine a late
    // playout tick can let a short burst through while the canceller
    // re-aligns, which dominates the overall level.
    let mut blocks: Vec<f64> = residual_pcm.chunks(RATE / 10).map(rms_dbfs).collect();
    blocks.sort_by(f64::total_cmp);
    let residual_p90 = blocks[blocks.len() * 9 / 10];
    let (erle, erle_p90) = (echo_level - residual, echo_level - residual_p90);
    let stats = alice.stats();
    eprintln!(
        "echo at Alice's microphone {echo_level:.1} dBFS, heard by Bob {residual:.1} dBFS \
         (90 % of 100 ms blocks below {residual_p90:.1}): ERLE {erle:.1} dB, {erle_p90:.1} dB \
         in 9 blocks of 10 (Alice: {} frames captured, {} encoded)",
        stats.audio_frames_captured, stats.audio_frames_encoded
    );
    assert!(
        echo_level > -40.0,
        "the room returned little echo: {echo_level:.1} dBFS"
    );
    assert!(erle_p90 >= 40.0, "ERLE {erle_p90:.1} dB in 9 blocks of 10");
    assert!(erle >= 30.0, "ERLE {erle:.1} dB overall");

    // Double talk: Bob hears Alice's syllables, at about her level.
    let from = DOUBLE_TALK_AT + 50;
    let said = &near[from * CHUNK..RUN_TICKS * CHUNK];
    let got = bob_during(from, RUN_TICKS + 100);
    let said_env = level_envelope(said, CHUNK);
    let got_env = level_envelope(&got, CHUNK);
    // Bob hears Alice later by the network and both buffers: up to 0.5 s.
    let (lag, follows) = (0..50)
        .map(|lag| {
            (
                lag,
                correlation(&said_env, &got_env[lag.min(got_env.len())..]),
            )
        })
        .fold((0, f64::MIN), |best, x| if x.1 > best.1 { x } else { best });
    let level =
        rms_dbfs(&got[lag * CHUNK..(lag * CHUNK + said.len()).min(got.len())]) - rms_dbfs(said);
    eprintln!(
        "double talk: Bob's audio follows Alice's syllables {follows:.2} ({} ms later), her level {level:+.1} dB",
        lag * 10
    );
    assert!(
        follows >= 0.7,
        "Alice's voice lost in double talk: {follows:.2}"
    );
    assert!(
        (-10.0..=6.0).contains(&level),
        "Alice's level {level:+.1} dB"
    );
}
