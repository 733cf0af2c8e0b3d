//! Real audio devices: PulseAudio null sinks behind cpal's ALSA backend.
//!
//! A 1 kHz tone is played into `sink_a`; the echo example, run with
//! `--real-devices`, records `sink_a.monitor` as its microphone and plays
//! what comes back through Opus into `sink_b`, whose monitor we record. The
//! recording must hold the tone at the same frequency (1 %) and level (3 dB).
//! scripts/pulse.sh starts the daemon (scripts/setup.sh installs it).

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use common::{root, start_pulse, Killed};
use media::analysis::{rms_dbfs, tone_frequency};

const TONE_HZ: f64 = 1000.0;
const TONE_DBFS: f64 = -12.0;

#[test]
fn tone_through_real_devices_comes_back_at_the_same_frequency_and_level() {
    let xdg = start_pulse();

    let built = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--example", "echo"])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(built.success());

    let pa = |prog: &str, args: &[&str]| {
        Command::new(prog)
            .args(args)
            .args([
                "--format=float32le",
                "--rate=48000",
                "--channels=1",
                "--raw",
                "--latency-msec=20",
            ])
            .env("XDG_RUNTIME_DIR", &xdg)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{prog}: {e}"))
    };
    // Record what the engine plays.
    let mut recorder = Killed(pa("parec", &["--device=sink_b.monitor"]));
    let mut rec_out = recorder.0.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = rec_out.read_to_end(&mut bytes);
        bytes
    });
    // Play the tone the engine's microphone hears: 12 s, longer than the run.
    let mut player = Killed(pa("pacat", &["--playback", "--device=sink_a"]));
    let mut play_in = player.0.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let amp = 10f64.powf(TONE_DBFS / 20.0) * 2f64.sqrt();
        let samples: Vec<u8> = (0..48_000 * 12)
            .flat_map(|i| {
                ((amp * (2.0 * std::f64::consts::PI * TONE_HZ * i as f64 / 48_000.0).sin()) as f32)
                    .to_le_bytes()
            })
            .collect();
        let _ = play_in.write_all(&samples);
    });

    let echo = Command::new(root().join("target/release/examples/echo"))
        .args(["--real-devices", "--seconds", "6", "--no-voice-processing"])
        .env("XDG_RUNTIME_DIR", &xdg)
        .env("PULSE_SOURCE", "sink_a.monitor")
        .env("PULSE_SINK", "sink_b")
        .output()
        .unwrap();
    let echo_out = String::from_utf8_lossy(&echo.stdout).to_string();
    assert!(
        echo.status.success(),
        "echo --real-devices failed:\n{echo_out}\n{}",
        String::from_utf8_lossy(&echo.stderr)
    );
    drop(recorder);
    drop(player);
    let _ = writer.join();
    let bytes = reader.join().unwrap();
    let recorded: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();

    // The returned tone, window by window (100 ms, past the first 0.5 s of
    // sound): the medians of frequency and level, so that a dropout of the
    // PulseAudio rig in one window does not blur the rest.
    let windows: Vec<&[f32]> = recorded
        .chunks_exact(4_800)
        .filter(|w| rms_dbfs(w) > -40.0)
        .skip(5)
        .collect();
    assert!(
        windows.len() >= 20,
        "only {} windows of returned audio in {} samples recorded:\n{echo_out}",
        windows.len(),
        recorded.len()
    );
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let freq = median(
        windows
            .iter()
            .filter_map(|w| tone_frequency(w, 48_000))
            .collect(),
    );
    let level = median(windows.iter().map(|w| rms_dbfs(w)).collect());
    let off = windows
        .iter()
        .filter(|w| tone_frequency(w, 48_000).is_none_or(|f| (f - TONE_HZ).abs() > TONE_HZ * 0.01))
        .count();
    eprintln!(
        "returned tone: {freq:.2} Hz at {level:.2} dBFS (medians of {} windows, {off} off-tone)",
        windows.len()
    );
    assert!(
        (freq - TONE_HZ).abs() <= TONE_HZ * 0.01,
        "frequency {freq:.2} Hz"
    );
    assert!((level - TONE_DBFS).abs() <= 3.0, "level {level:.2} dBFS");
}
