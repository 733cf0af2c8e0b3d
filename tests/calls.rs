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
