//! Helpers shared by the tests that run real processes: building the
//! binaries, starting the server, reading a child's output up to a line,
//! and waiting for a child with a bound.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A child process that is killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Builds libmedia.so / libmedia.a (release) for hosts that link it.
pub fn build_library() {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--lib", "--quiet"])
        .current_dir(root())
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the library failed");
    // Hosts linked with -lmedia record the soname (libmedia.so.N) and look
    // for that file at run time: put it beside the library, as an install
    // would.
    let dir = root().join("target/release");
    let soname = dir.join(format!("libmedia.so.{}", env!("MEDIA_SONAME_VERSION")));
    let _ = std::fs::remove_file(&soname);
    std::os::unix::fs::symlink("libmedia.so", &soname).expect("link the soname");
}

/// Builds `media-server` and the `caller` example (release).
pub fn build_call_binaries() {
    let ok = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "media-server",
            "--bin",
            "media-server",
        ])
        .current_dir(root())
        .status()
        .unwrap()
        .success();
    assert!(ok, "building media-server failed");
    // A separate build: `--example` alone selects no binary target.
    let ok = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "libmedia",
            "--example",
            "caller",
        ])
        .current_dir(root())
        .status()
        .unwrap()
        .success();
    assert!(ok, "building the caller failed");
}

pub fn server_bin() -> PathBuf {
    root().join("target/release/media-server")
}

pub fn caller_bin() -> PathBuf {
    root().join("target/release/examples/caller")
}

/// A running `media-server` and its `ws://` URL.
pub struct ServerProcess {
    pub process: Killed,
    pub url: String,
}

/// Starts `media-server serve` for app `demo:secret` with `extra` arguments,
/// through `launcher` (e.g. `ip netns exec NS`) when given.
pub fn start_server(launcher: &[&str], extra: &[&str]) -> ServerProcess {
    let mut cmd = match launcher.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(server_bin());
            c
        }
        None => Command::new(server_bin()),
    };
    let mut child = cmd
        .args(["serve", "--app", "demo:secret"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(url.starts_with("ws://"), "server did not start: {line:?}");
    ServerProcess {
        process: Killed(child),
        url,
    }
}

/// A token for `user` in app `demo`, minted by the server binary.
pub fn token(user: &str) -> String {
    let out = Command::new(server_bin())
        .args(["token", "--app", "demo:secret", "--user", user])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Takes the child's stdout and blocks (at most 60 s) until a line contains
/// `what`; the returned thread yields everything the child printed.
pub fn lines_until(child: &mut Child, what: &str) -> JoinHandle<String> {
    let out = child.stdout.take().expect("stdout piped");
    let (tx, rx) = std::sync::mpsc::channel();
    let wanted = what.to_string();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut told = false;
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            if !told && line.contains(&wanted) {
                told = true;
                let _ = tx.send(());
            }
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("no line containing {what:?} within 60 s"));
    reader
}

/// Waits (bounded) for a child to exit and returns its output; on timeout
/// kills it and fails with what it printed.
pub fn finish(child: Child, limit: Duration) -> Output {
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
            let out = rx
                .recv_timeout(Duration::from_secs(10))
                .ok()
                .and_then(|o| o.ok());
            let (o, e) = out
                .map(|o| (stdout(&o), String::from_utf8_lossy(&o.stderr).to_string()))
                .unwrap_or_default();
            panic!("process {id} did not finish within {limit:?}:\n{o}\n{e}");
        }
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Follows a child's stdout line by line, so a test can wait for several
/// lines in turn.
pub struct Lines {
    rx: std::sync::mpsc::Receiver<String>,
    all: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Lines {
    pub fn follow(child: &mut Child) -> Lines {
        let out = child.stdout.take().expect("stdout piped");
        let (tx, rx) = std::sync::mpsc::channel();
        let all = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let keep = all.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                keep.lock().unwrap().push_str(&format!("{line}\n"));
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { rx, all }
    }

    /// The next line for which `f` returns something, within `limit`.
    pub fn until<T>(&self, limit: Duration, mut f: impl FnMut(&str) -> Option<T>) -> Option<T> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self.rx.recv_timeout(left).ok()?;
            if let Some(v) = f(&line) {
                return Some(v);
            }
        }
    }

    /// Waits for a line containing `what`; panics with everything printed
    /// so far when none comes within `limit`.
    pub fn expect(&self, what: &str, limit: Duration) -> String {
        self.until(limit, |l| l.contains(what).then(|| l.to_string()))
            .unwrap_or_else(|| panic!("no line with {what:?} within {limit:?}:\n{}", self.text()))
    }

    /// Everything printed so far.
    pub fn text(&self) -> String {
        self.all.lock().unwrap().clone()
    }
}

/// Writes a line to a child's stdin (piped).
pub fn say(child: &mut Child, line: &str) {
    use std::io::Write;
    let stdin = child.stdin.as_mut().expect("stdin piped");
    writeln!(stdin, "{line}").unwrap();
    stdin.flush().unwrap();
}

/// From a caller's per-remote status line `  uid 3: video 120 decoded ...`:
/// (3, 120).
pub fn remote_decoded(line: &str) -> Option<(u32, u64)> {
    let rest = line.strip_prefix("  uid ")?;
    let (uid, rest) = rest.split_once(": video ")?;
    let n = rest.split(' ').next()?;
    Some((uid.parse().ok()?, n.parse().ok()?))
}

/// The test pattern's frame numbers in a Y4M recording, in file order.
pub fn frame_numbers(path: &Path) -> Vec<u32> {
    media::devices::video::read_y4m(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .iter()
        .filter_map(|f| media::devices::pattern::read_stamp(f.width, f.height, f.y(), f.y_stride()))
        .map(|s| s.frame_number)
        .collect()
}

/// Runs a command that must succeed (namespace and firewall set-up).
pub fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A headless-capable caller for `me` with synthetic devices at 320x180,
/// 300 kbit/s, offering only 127.0.0.1; add a tone, a command and pipes.
pub fn caller_cmd(server_url: &str, me: &str) -> Command {
    let mut c = Command::new(caller_bin());
    c.args(["--server", server_url, "--token", &token(me), "--me", me])
        .args(["--fake", "--host-ip", "127.0.0.1"])
        .args(["--width", "320", "--height", "180", "--bitrate", "300000"]);
    c
}

/// Polls `cond` until it holds, failing the test after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Two namespaces and a veth pair; removed on drop.
pub struct Net {
    pub a: String,
    pub b: String,
}

impl Net {
    /// `a` gets 10.231.0.1 and `b` 10.231.0.2; `tag` (at most 5 digits)
    /// names the namespaces and links, so tests running at once need
    /// different tags.
    pub fn new(tag: u32) -> Net {
        let (a, b) = (format!("media_a{tag}"), format!("media_b{tag}"));
        let _ = Command::new("ip").args(["netns", "del", &a]).output();
        let _ = Command::new("ip").args(["netns", "del", &b]).output();
        sh(&["ip", "netns", "add", &a]);
        sh(&["ip", "netns", "add", &b]);
        let (va, vb) = (format!("mva{tag}"), format!("mvb{tag}"));
        sh(&[
            "ip", "link", "add", &va, "netns", &a, "type", "veth", "peer", "name", &vb, "netns", &b,
        ]);
        sh(&["ip", "-n", &a, "addr", "add", "10.231.0.1/24", "dev", &va]);
        sh(&["ip", "-n", &b, "addr", "add", "10.231.0.2/24", "dev", &vb]);
        for (ns, dev) in [(&a, &va), (&b, &vb)] {
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        Net { a, b }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.a]).output();
        let _ = Command::new("ip").args(["netns", "del", &self.b]).output();
    }
}

/// `program` run inside namespace `ns`.
pub fn in_ns(ns: &str, program: &Path) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).arg(program);
    c
}

/// Starts PulseAudio with its null sinks (scripts/pulse.sh) and returns the
/// `XDG_RUNTIME_DIR` its clients need.
pub fn start_pulse() -> String {
    let pulse = Command::new("bash")
        .arg(root().join("scripts/pulse.sh"))
        .output()
        .expect("run scripts/pulse.sh");
    assert!(
        pulse.status.success(),
        "PulseAudio did not start: {}",
        String::from_utf8_lossy(&pulse.stderr)
    );
    String::from_utf8_lossy(&pulse.stdout)
        .trim()
        .trim_start_matches("export XDG_RUNTIME_DIR=")
        .to_string()
}

/// Sends `engine`'s events to the returned channel and connects it to the
/// in-process `server` as `name`, offering only 127.0.0.1.
pub fn connect_on_loopback(
    engine: &media::Engine,
    server: &media::LocalServer,
    name: &str,
) -> crossbeam_channel::Receiver<media::Event> {
    let (tx, events) = crossbeam_channel::unbounded();
    engine.set_event_handler(Some(Box::new(move |e: &media::Event| {
        drop(tx.send(e.clone()))
    })));
    let token = server.token(name, Duration::from_secs(600)).unwrap();
    let mut cfg = media::signal::ServerConfig::new(&server.url(), "demo", name, &token);
    cfg.network = media::transport::webrtc::WebRtcConfig {
        host_ips: vec!["127.0.0.1".parse().unwrap()],
        ..Default::default()
    };
    engine.connect_server(cfg).unwrap();
    events
}

/// The next event on `events` that `pred` accepts, within 30 s.
pub fn next_event(
    events: &crossbeam_channel::Receiver<media::Event>,
    what: &str,
    pred: impl Fn(&media::Event) -> bool,
) -> media::Event {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match events.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
            Ok(e) if pred(&e) => return e,
            Ok(_) => {}
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// Waits on `events` for an incoming call and accepts it on `engine`.
pub fn accept_incoming(engine: &media::Engine, events: &crossbeam_channel::Receiver<media::Event>) {
    use media::signal::CallEvent;
    let media::Event::Call(CallEvent::Incoming { call_id, .. }) =
        next_event(events, "an incoming call", |e| {
            matches!(e, media::Event::Call(CallEvent::Incoming { .. }))
        })
    else {
        unreachable!()
    };
    engine.accept(&call_id).unwrap();
}
