//! Browser interop: the server's web client in headless Chromium (Debian's
//! package, driven by playwright-core) calls a native caller and is called
//! by one. Video decodes both ways (Chromium's `framesDecoded` grows; the
//! native recording carries the test pattern's frame numbers, which
//! Chromium's fake camera plays from a Y4M file) and audio flows. And the
//! browser joins a channel of two native members: a three-way mesh.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use media::analysis::rms_dbfs;
use media::devices::audio::read_wav_mono_48k;
use media::devices::pattern::{self, Stamp};
use media::devices::video::Y4mWriter;
use media::VideoFrame;

fn pattern_clip(path: &Path) {
    let mut w = Y4mWriter::create(path, 30).unwrap();
    for n in 0..600u32 {
        let mut buf = vec![0; VideoFrame::i420_len(320, 180)];
        pattern::render(
            320,
            180,
            Stamp {
                frame_number: n,
                capture_us: 0,
            },
            &mut buf,
        );
        w.write(&VideoFrame::new(320, 180, buf, 0)).unwrap();
    }
}

fn check_native_recording(dir: &Path) {
    let numbers: Vec<u32> = frame_numbers(&dir.join("video.y4m"));
    assert!(
        numbers.len() >= 60,
        "native side read {} pattern frames from the browser",
        numbers.len()
    );
    let backwards = numbers.windows(2).filter(|w| w[1] <= w[0]).count();
    assert!(
        backwards <= 1,
        "frame numbers go forward (one wrap of the looping clip at most): {numbers:?}"
    );
    let audio = read_wav_mono_48k(&dir.join("audio.wav")).unwrap();
    // Chromium's fake microphone beeps about once a second.
    let loud = audio.chunks(4_800).filter(|c| rms_dbfs(c) > -50.0).count();
    assert!(
        loud >= 3,
        "the browser's beeps reached the native side ({loud} loud 100 ms windows)"
    );
}

/// What Chromium's getStats says it received from `from`: at least 60
/// decoded H.264 frames and a second of audio.
fn assert_chromium_received(stats: &serde_json::Value, from: &str, all: &serde_json::Value) {
    assert!(
        stats["framesDecoded"].as_u64().unwrap_or(0) >= 60,
        "Chromium decoded too little video of {from}: {all}"
    );
    assert_eq!(stats["videoCodec"], "video/H264", "{all}");
    assert!(
        stats["audioSamples"].as_u64().unwrap_or(0) > 48_000,
        "Chromium received no audio from {from}: {all}"
    );
}

fn browser_result(json_line: &str) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(json_line).unwrap_or_else(|e| panic!("{e}: {json_line}"));
    assert_chromium_received(&v, "the native caller", &v);
    v
}

fn node(args: &[&str]) -> Command {
    let mut c = Command::new("node");
    c.arg(root().join("tests/browser/interop.mjs"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Binaries, a folder with the pattern clip Chromium's camera plays, and
/// a server with its web client's address.
fn set_up(tag: &str) -> (PathBuf, PathBuf, ServerProcess, String) {
    build_call_binaries();
    let dir = std::env::temp_dir().join(format!("media-browser-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let clip = dir.join("pattern.y4m");
    pattern_clip(&clip);
    let server = start_server(&[], &["--listen", "127.0.0.1:0"]);
    let http = server.url.replace("ws://", "http://").replace("/ws", "/");
    (dir, clip, server, http)
}

#[test]
fn browser_joins_a_channel_of_two_native_members() {
    let (dir, clip, server, http) = set_up("ch");
    let long = Duration::from_secs(60);

    let mut natives = Vec::new();
    let mut uids = Vec::new();
    for (me, tone) in [("ann", "440"), ("ben", "660")] {
        let mut child = caller_cmd(&server.url, me)
            .args(["--headless", "--tone", tone, "--record"])
            .arg(dir.join(me))
            .args(["channel", "web-room"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = Lines::follow(&mut child);
        let joined = out.expect("joined web-room as uid ", long);
        uids.push(joined.rsplit(' ').next().unwrap().parse::<u32>().unwrap());
        natives.push((Killed(child), out));
    }

    // The browser joins last, so it offers to both natives.
    let page = format!(
        "{http}?app=demo&user=web&token={}&channel=web-room",
        token("web")
    );
    let web = node(&["channel", &page, "2", "3", clip.to_str().unwrap()])
        .output()
        .unwrap();
    let web_text = String::from_utf8_lossy(&web.stdout).to_string();
    assert!(
        web.status.success(),
        "browser side failed:\n{web_text}\n{}",
        String::from_utf8_lossy(&web.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(web_text.lines().last().unwrap_or_default()).unwrap();
    let web_uid = v["uid"].as_u64().unwrap() as u32;
    for uid in &uids {
        assert_chromium_received(&v["members"][uid.to_string()], &format!("uid {uid}"), &v);
    }

    // The natives decoded the browser (and each other), then saw it quit.
    for (i, (child, out)) in natives.iter_mut().enumerate() {
        out.expect(&format!("user offline: {web_uid} quit"), long);
        say(&mut child.0, "leave");
        out.expect("left web-room", long);
        let text = out.text();
        let best = |uid: u32| {
            text.lines()
                .filter_map(remote_decoded)
                .filter(|&(u, _)| u == uid)
                .map(|(_, n)| n)
                .max()
                .unwrap_or(0)
        };
        assert!(
            best(web_uid) >= 30,
            "native {i} decoded the browser:\n{text}"
        );
        assert!(
            best(uids[1 - i]) >= 30,
            "native {i} decoded the other native:\n{text}"
        );
        let numbers: Vec<u32> = frame_numbers(
            &dir.join(["ann", "ben"][i])
                .join(format!("video-{web_uid}.y4m")),
        );
        assert!(
            numbers.len() >= 30,
            "native {i} read {} pattern frames from the browser",
            numbers.len()
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn browser_and_native_call_each_other() {
    let (dir, clip, server, http) = set_up("call");
    let ws_url = server.url.clone();
    let page = |u: &str| format!("{http}?app=demo&user={u}&token={}", token(u));
    let native = |me: &str, rec: &PathBuf, args: &[&str]| {
        caller_cmd(&ws_url, me)
            .args(["--headless", "--record"])
            .arg(rec)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };

    // 1. The browser calls a native app.
    let rec_bob = dir.join("bob");
    let mut bob = Killed(native("bob", &rec_bob, &["answer"]));
    let bob_out = lines_until(&mut bob.0, "waiting for calls");
    let web = node(&["call", &page("web1"), "bob", "4", clip.to_str().unwrap()])
        .output()
        .unwrap();
    let web_text = String::from_utf8_lossy(&web.stdout).to_string();
    assert!(
        web.status.success(),
        "browser side failed:\n{web_text}\n{}",
        String::from_utf8_lossy(&web.stderr)
    );
    let _ = bob.0.wait();
    let bob_text = bob_out.join().unwrap();
    assert!(
        bob_text.contains("call ended: hangup"),
        "native side:\n{bob_text}"
    );
    browser_result(web_text.lines().last().unwrap_or_default());
    check_native_recording(&rec_bob);

    // 2. A native app calls the browser.
    let rec_alice = dir.join("alice");
    let mut web = Killed(
        node(&["answer", &page("web2"), "60", clip.to_str().unwrap()])
            .spawn()
            .unwrap(),
    );
    let web_out = lines_until(&mut web.0, "ready");
    let alice = finish(
        native("alice", &rec_alice, &["--duration", "5", "call", "web2"]),
        Duration::from_secs(90),
    );
    let alice_text = String::from_utf8_lossy(&alice.stdout).to_string();
    assert!(
        alice_text.contains("call ended: hangup"),
        "native caller:\n{alice_text}"
    );
    let _ = web.0.wait();
    let web_text = web_out.join().unwrap();
    let v = browser_result(web_text.lines().last().unwrap_or_default());
    assert_eq!(v["ended"], "hangup", "{v}");
    check_native_recording(&rec_alice);
    std::fs::remove_dir_all(&dir).ok();
}

/// A user id with markup, sent by a bare WebSocket client to the running
/// server: `bad_message`, then the server closes the connection.
fn assert_markup_user_id_refused(ws_url: &str) {
    use tungstenite::stream::MaybeTlsStream;
    use tungstenite::Message;

    let (mut ws, _) = tungstenite::connect(ws_url).unwrap();
    if let MaybeTlsStream::Plain(tcp) = ws.get_mut() {
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    let user = "<b>x</b>";
    let register = serde_json::json!({
        "type": "register", "app_id": "demo", "user_id": user,
        "nickname": "x", "token": token(user),
    });
    ws.send(Message::text(register.to_string())).unwrap();
    let reply = ws.read().unwrap();
    let v: serde_json::Value = serde_json::from_str(reply.to_text().unwrap()).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["code"].as_str()),
        (Some("error"), Some("bad_message")),
        "{v}"
    );
    // Then the server closes: a close frame, or the connection ends.
    match ws.read() {
        Ok(Message::Close(_)) => {}
        Ok(other) => panic!("after bad_message the server sent {other:?}"),
        Err(tungstenite::Error::Io(e))
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            panic!("the server did not close the connection within 10 s")
        }
        Err(_) => {}
    }
}

#[test]
fn web_client_shows_hostile_nicknames_as_text() {
    build_call_binaries();
    let server = start_server(&[], &["--listen", "127.0.0.1:0"]);
    let http = server.url.replace("ws://", "http://").replace("/ws", "/");

    assert_markup_user_id_refused(&server.url);

    let nickname = r#"<img src=x onerror="window.__pwned=1"><b>bold</b>"#;
    let who = |u: &str| serde_json::json!({ "user": u, "token": token(u) });
    let spec = serde_json::json!({
        "victim": who("victim"),
        "hostile": [who("mallory"), who("trudy")],
        "nickname": nickname,
    });
    let out = finish(
        Command::new("node")
            .arg(root().join("tests/browser/captions.mjs"))
            .args([&http, "markup-room", &spec.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(120),
    );
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "browser side failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap();
    let victim = &v["victim"];
    let captions: Vec<&str> = victim["captions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    // Both ways a member reaches the page: the "joined" list (mallory) and
    // "user_joined" (trudy).
    for user in ["mallory", "trudy"] {
        assert!(
            captions
                .iter()
                .any(|c| c.contains(user) && c.contains(nickname)),
            "the victim's caption for {user} shows the nickname's markup as text: {v}"
        );
    }
    assert_eq!(
        victim["elementsInCaptions"], 0,
        "captions are text only: {v}"
    );
    for page in [victim, &v["hostile"][0], &v["hostile"][1]] {
        assert_eq!(page["injected"], 0, "no element came from markup: {v}");
        assert_eq!(page["pwned"], "undefined", "no injected script ran: {v}");
    }
    assert_eq!(v["dialogs"], serde_json::json!([]), "{v}");
}
