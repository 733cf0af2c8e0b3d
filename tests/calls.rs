//! Real processes over real sockets on loopback: the rendezvous server and
//! headless desktop callers with synthetic devices.
//!
//! An audio + video call where each side records the other's tone and test
//! pattern, and the call outcomes (reject, busy, offline, timeout, cancel)
//! as each side sees them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use media::analysis::tone_frequency;
use media::devices::audio::read_wav_mono_48k;
use media::devices::pattern;
use media::devices::video::read_y4m;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn build() {
    let ok = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "media-server", "-p", "libmedia", "--example", "caller"])
        .current_dir(root())
        .status()
        .unwrap()
        .success();
    assert!(ok, "build failed");
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_bin() -> PathBuf {
    root().join("target/release/media-server")
}

fn start_server(ring_timeout: u32) -> Server {
    let mut child = Command::new(server_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--app", "demo:secret", "--ring-timeout", &ring_timeout.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_string();
    assert!(url.starts_with("ws://127.0.0.1:"), "{line}");
    Server { child, url }
}

fn token(user: &str) -> String {
    let out = Command::new(server_bin()).args(["token", "--app", "demo:secret", "--user", user]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Starts a headless caller with fake devices; `args` after the common ones.
fn caller(server: &Server, me: &str, tone: &str, extra: &[&str]) -> Child {
    Command::new(root().join("target/release/examples/caller"))
        .args(["--server", &server.url, "--token", &token(me), "--me", me, "--fake", "--tone", tone, "--headless"])
        .args(["--host-ip", "127.0.0.1", "--width", "320", "--height", "180", "--bitrate", "300000"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (bounded) for a caller to exit and returns its output; on
/// timeout kills it and fails with what it printed.
fn finish(child: Child, limit: Duration) -> Output {
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            let out = rx.recv_timeout(Duration::from_secs(10)).ok().and_then(|o| o.ok());
            let (o, e) = out.map(|o| (stdout(&o), String::from_utf8_lossy(&o.stderr).to_string())).unwrap_or_default();
            panic!("caller {id} did not finish within {limit:?}:\n{o}\n{e}");
        }
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Blocks until `child` printed a line containing `what`; returns the child
/// with its stdout reader handed back through a thread that keeps reading.
fn wait_line(child: &mut Child, what: &str) -> std::thread::JoinHandle<String> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let what = what.to_string();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut sent = false;
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            if !sent && line.contains(&what) {
                sent = true;
                let _ = tx.send(());
            }
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(20)).expect("expected line in time");
    reader
}

#[test]
fn a_video_call_carries_each_sides_tone_and_pattern() {
    build();
    let server = start_server(30);
    let dir = std::env::temp_dir().join(format!("media-calls-{}", std::process::id()));
    let (rec_a, rec_b) = (dir.join("alice"), dir.join("bob"));
    let mut bob = caller(&server, "bob", "660", &["--record", rec_b.to_str().unwrap(), "answer"]);
    let bob_out = wait_line(&mut bob, "waiting for calls");
    let alice = caller(&server, "alice", "440", &["--record", rec_a.to_str().unwrap(), "--duration", "5", "call", "bob"]);
    let a = finish(alice, Duration::from_secs(60));
    let b = finish(bob, Duration::from_secs(30));
    let (a_text, b_text) = (stdout(&a), bob_out.join().unwrap());
    assert!(a_text.contains("call ended: hangup"), "alice:\n{a_text}\n{}", String::from_utf8_lossy(&a.stderr));
    assert!(b_text.contains("call ended: hangup"), "bob:\n{b_text}\n{}", String::from_utf8_lossy(&b.stderr));

    for (rec, other_tone) in [(&rec_a, 660.0), (&rec_b, 440.0)] {
        let frames = read_y4m(&rec.join("video.y4m")).unwrap();
        let numbers: Vec<u32> =
            frames.iter().filter_map(|f| pattern::read_stamp(f.width, f.height, f.y(), f.y_stride())).map(|s| s.frame_number).collect();
        assert!(numbers.len() >= 90, "{}: only {} frames with readable stamps", rec.display(), numbers.len());
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "frame numbers in order");
        let audio = read_wav_mono_48k(&rec.join("audio.wav")).unwrap();
        let start = audio.iter().position(|s| s.abs() > 0.01).expect("the other side's tone was heard");
        let heard = &audio[start + 9_600..audio.len().saturating_sub(9_600).max(start + 9_600 + 48_000)];
        let f = tone_frequency(heard, 48_000).unwrap();
        assert!((f - other_tone).abs() < other_tone * 0.01, "{}: heard {f:.1} Hz", rec.display());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn reject_busy_offline_timeout_and_cancel_reach_both_sides() {
    build();
    let server = start_server(3);
    let limit = Duration::from_secs(40);

    // offline
    let a = finish(caller(&server, "alice", "440", &["call", "nobody"]), limit);
    assert!(stdout(&a).contains("call ended: offline"), "{}", stdout(&a));

    // reject
    let mut bob = caller(&server, "bob", "660", &["answer", "--mode", "reject"]);
    let bob_out = wait_line(&mut bob, "waiting for calls");
    let a = finish(caller(&server, "alice", "440", &["call", "bob"]), limit);
    let _ = finish(bob, limit);
    assert!(stdout(&a).contains("call ended: rejected"), "{}", stdout(&a));
    assert!(bob_out.join().unwrap().contains("call ended: rejected"));

    // timeout: nobody answers within 3 s; both sides are told
    let mut bob = caller(&server, "bob", "660", &["answer", "--mode", "ignore"]);
    let bob_out = wait_line(&mut bob, "waiting for calls");
    let a = finish(caller(&server, "alice", "440", &["call", "bob"]), limit);
    let _ = finish(bob, limit);
    assert!(stdout(&a).contains("call ended: timeout"), "{}", stdout(&a));
    assert!(bob_out.join().unwrap().contains("call ended: timeout"));

    // cancel: alice gives up after 1 s of ringing
    let mut bob = caller(&server, "bob", "660", &["answer", "--mode", "ignore"]);
    let bob_out = wait_line(&mut bob, "waiting for calls");
    let a = finish(caller(&server, "alice", "440", &["call", "bob", "--cancel-after", "1"]), limit);
    let _ = finish(bob, limit);
    assert!(stdout(&a).contains("call ended: cancelled"), "{}", stdout(&a));
    assert!(bob_out.join().unwrap().contains("call ended: cancelled"));

    // busy: bob is in a call with carol when alice calls
    let mut bob = caller(&server, "bob", "660", &["answer"]);
    let bob_out = wait_line(&mut bob, "waiting for calls");
    let mut carol = caller(&server, "carol", "550", &["--duration", "8", "call", "bob"]);
    let carol_out = wait_line(&mut carol, "accepted");
    let a = finish(caller(&server, "alice", "440", &["call", "bob"]), limit);
    assert!(stdout(&a).contains("call ended: busy"), "{}", stdout(&a));
    let _ = finish(carol, limit);
    let _ = finish(bob, limit);
    assert!(carol_out.join().unwrap().contains("call ended: hangup"));
    assert!(bob_out.join().unwrap().contains("call ended: hangup"));
}
