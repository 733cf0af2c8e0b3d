//! Real processes over real sockets on loopback: the rendezvous server and
//! headless desktop callers with synthetic devices.
//!
//! An audio + video call where each side records the other's tone and test
//! pattern, and the call outcomes (reject, busy, offline, timeout, cancel)
//! as each side sees them.

mod common;

use std::process::{Child, Stdio};
use std::time::Duration;

use common::*;
use media::analysis::tone_frequency;
use media::devices::audio::read_wav_mono_48k;

fn start(ring_timeout: u32) -> ServerProcess {
    start_server(
        &[],
        &[
            "--listen",
            "127.0.0.1:0",
            "--ring-timeout",
            &ring_timeout.to_string(),
        ],
    )
}

/// Starts a headless caller with fake devices; `args` after the common ones.
fn caller(server: &ServerProcess, me: &str, tone: &str, extra: &[&str]) -> Child {
    caller_cmd(&server.url, me)
        .args(["--tone", tone, "--headless"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_video_call_carries_each_sides_tone_and_pattern() {
    build_call_binaries();
    let server = start(30);
    let dir = std::env::temp_dir().join(format!("media-calls-{}", std::process::id()));
    let (rec_a, rec_b) = (dir.join("alice"), dir.join("bob"));
    let mut bob = caller(
        &server,
        "bob",
        "660",
        &["--record", rec_b.to_str().unwrap(), "answer"],
    );
    let bob_out = lines_until(&mut bob, "waiting for calls");
    let alice = caller(
        &server,
        "alice",
        "440",
        &[
            "--record",
            rec_a.to_str().unwrap(),
            "--duration",
            "5",
            "call",
            "bob",
        ],
    );
    let a = finish(alice, Duration::from_secs(60));
    let b = finish(bob, Duration::from_secs(30));
    let (a_text, b_text) = (stdout(&a), bob_out.join().unwrap());
    assert!(
        a_text.contains("call ended: hangup"),
        "alice:\n{a_text}\n{}",
        String::from_utf8_lossy(&a.stderr)
    );
    assert!(
        b_text.contains("call ended: hangup"),
        "bob:\n{b_text}\n{}",
        String::from_utf8_lossy(&b.stderr)
    );

    for (rec, other_tone) in [(&rec_a, 660.0), (&rec_b, 440.0)] {
        let numbers = frame_numbers(&rec.join("video.y4m"));
        assert!(
            numbers.len() >= 90,
            "{}: only {} frames with readable stamps",
            rec.display(),
            numbers.len()
        );
        assert!(
            numbers.windows(2).all(|w| w[0] < w[1]),
            "frame numbers in order"
        );
        let audio = read_wav_mono_48k(&rec.join("audio.wav")).unwrap();
        let start = audio
            .iter()
            .position(|s| s.abs() > 0.01)
            .expect("the other side's tone was heard");
        let heard = &audio[start + 9_600
            ..audio
                .len()
                .saturating_sub(9_600)
                .max(start + 9_600 + 48_000)];
        let f = tone_frequency(heard, 48_000).unwrap();
        assert!(
            (f - other_tone).abs() < other_tone * 0.01,
            "{}: heard {f:.1} Hz",
            rec.display()
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn reject_busy_offline_timeout_and_cancel_reach_both_sides() {
    build_call_binaries();
    let server = start(3);
    let limit = Duration::from_secs(40);

    // offline
    let a = finish(caller(&server, "alice", "440", &["call", "nobody"]), limit);
    assert!(stdout(&a).contains("call ended: offline"), "{}", stdout(&a));

    // reject
    let mut bob = caller(&server, "bob", "660", &["answer", "--mode", "reject"]);
    let bob_out = lines_until(&mut bob, "waiting for calls");
    let a = finish(caller(&server, "alice", "440", &["call", "bob"]), limit);
    let _ = finish(bob, limit);
    assert!(
        stdout(&a).contains("call ended: rejected"),
        "{}",
        stdout(&a)
    );
    assert!(bob_out.join().unwrap().contains("call ended: rejected"));

    // timeout: nobody answers within 3 s; both sides are told
    let mut bob = caller(&server, "bob", "660", &["answer", "--mode", "ignore"]);
    let bob_out = lines_until(&mut bob, "waiting for calls");
    let a = finish(caller(&server, "alice", "440", &["call", "bob"]), limit);
    let _ = finish(bob, limit);
    assert!(stdout(&a).contains("call ended: timeout"), "{}", stdout(&a));
    assert!(bob_out.join().unwrap().contains("call ended: timeout"));

    // cancel: alice gives up after 1 s of ringing
    let mut bob = caller(&server, "bob", "660", &["answer", "--mode", "ignore"]);
    let bob_out = lines_until(&mut bob, "waiting for calls");
    let a = finish(
        caller(
            &server,
            "alice",
            "440",
            &["call", "bob", "--cancel-after", "1"],
        ),
        limit,
    );
    let _ = finish(bob, limit);
    assert!(
        stdout(&a).contains("call ended: cancelled"),
        "{}",
        stdout(&a)
    );
    assert!(bob_out.join().unwrap().contains("call ended: cancelled"));

    // busy: bob is in a call with carol when alice calls
    let mut bob = caller(&server, "bob", "660", &["answer"]);
    let bob_out = lines_until(&mut bob, "waiting for calls");
    let mut carol = caller(&server, "carol", "550", &["--duration", "8", "call", "bob"]);
    let carol_out = lines_until(&mut carol, "accepted");
    let a = finish(caller(&server, "alice", "440", &["call", "bob"]), limit);
    assert!(stdout(&a).contains("call ended: busy"), "{}", stdout(&a));
    let _ = finish(carol, limit);
    let _ = finish(bob, limit);
    assert!(carol_out.join().unwrap().contains("call ended: hangup"));
    assert!(bob_out.join().unwrap().contains("call ended: hangup"));
}

#[test]
fn a_call_from_files_is_recorded_and_its_stats_written_as_json() {
    use media::devices::audio::{AudioSink, WavSink};
    use media::devices::video::{read_y4m, Y4mWriter};
    use media::VideoFrame;

    build_call_binaries();
    let server = start(30);
    let dir = std::env::temp_dir().join(format!("media-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // What alice "captures": a 523 Hz tone and ten flat frames whose
    // brightness says which they are.
    let wav = dir.join("in.wav");
    let mut sink = WavSink::create(&wav).unwrap();
    let tone: Vec<f32> = (0..96_000)
        .map(|i| 0.2 * (2.0 * std::f32::consts::PI * 523.0 * i as f32 / 48_000.0).sin())
        .collect();
    sink.write(&tone).unwrap();
    sink.finish().unwrap();
    let levels: Vec<u8> = (0..10).map(|i| 40 + 15 * i).collect();
    let clip = dir.join("in.y4m");
    let mut writer = Y4mWriter::create(&clip, 15).unwrap();
    for &l in &levels {
        let mut data = vec![l; VideoFrame::i420_len(320, 180)];
        data[320 * 180..].fill(128);
        writer.write(&VideoFrame::new(320, 180, data, 0)).unwrap();
    }
    drop(writer);

    let (rec_b, json) = (dir.join("bob"), dir.join("alice.jsonl"));
    let mut bob = caller(
        &server,
        "bob",
        "660",
        &["--record", rec_b.to_str().unwrap(), "answer"],
    );
    let bob_out = lines_until(&mut bob, "waiting for calls");
    let alice = caller(
        &server,
        "alice",
        "440",
        &[
            "--audio-in",
            wav.to_str().unwrap(),
            "--video-in",
            clip.to_str().unwrap(),
            "--fps",
            "15",
            "--stats-json",
            json.to_str().unwrap(),
            "--duration",
            "4",
            "call",
            "bob",
        ],
    );
    let a = finish(alice, Duration::from_secs(60));
    let _ = finish(bob, Duration::from_secs(30));
    let b_text = bob_out.join().unwrap();
    assert!(
        stdout(&a).contains("call ended: hangup"),
        "alice:\n{}",
        stdout(&a)
    );

    // Bob heard the file's tone, not the caller's --tone.
    let heard = read_wav_mono_48k(&rec_b.join("audio.wav")).unwrap();
    let start = heard
        .iter()
        .position(|x| x.abs() > 0.01)
        .expect("audio arrived");
    let f = tone_frequency(&heard[start + 9_600..heard.len() - 4_800], 48_000).unwrap();
    assert!((f - 523.0).abs() < 5.0, "bob heard {f:.1} Hz:\n{b_text}");
    // Bob saw the clip's frames, at about 15 fps.
    let frames = read_y4m(&rec_b.join("video.y4m")).unwrap();
    let from_clip = frames
        .iter()
        .filter(|f| {
            let mean = f.y().iter().map(|&v| v as f64).sum::<f64>() / f.y().len() as f64;
            levels.iter().any(|&l| (mean - l as f64).abs() < 4.0)
        })
        .count();
    eprintln!(
        "bob: {} frames recorded, {from_clip} from the clip",
        frames.len()
    );
    assert!(
        (25..=75).contains(&frames.len()),
        "{} frames in ~4 s at 15 fps",
        frames.len()
    );
    assert!(
        from_clip * 10 >= frames.len() * 9,
        "{from_clip} of {} frames from the clip",
        frames.len()
    );

    // Alice's stats: one JSON object per second.
    let text = std::fs::read_to_string(&json).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() >= 3, "{} lines:\n{text}", lines.len());
    let times: Vec<f64> = lines.iter().map(|l| l["t_s"].as_f64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[1] > w[0] + 0.5), "{times:?}");
    let encoded: Vec<u64> = lines
        .iter()
        .map(|l| l["engine"]["audio_frames_encoded"].as_u64().unwrap())
        .collect();
    assert!(encoded.windows(2).all(|w| w[1] >= w[0]), "{encoded:?}");
    // The last second of the call (a line after the hangup has no peer).
    let last = lines
        .iter()
        .rev()
        .find(|l| l["state"] == "in call")
        .unwrap_or_else(|| panic!("no line in the call:\n{text}"));
    let remotes = last["remotes"].as_array().unwrap();
    assert_eq!(remotes.len(), 1, "{last}");
    assert!(
        remotes[0]["video_frames_decoded"].as_u64().unwrap() > 0,
        "{last}"
    );
    assert!(
        last["engine"]["video_end_to_end_latency"]["p50_us"].is_u64(),
        "{last}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
