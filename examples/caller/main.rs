//! The desktop caller: registers with a libmedia rendezvous server, then
//! calls someone, answers calls, or joins a channel. Real devices by
//! default (falling back to audio-only or receive-only when there is no
//! camera or microphone); `--fake` uses a tone and the test pattern.
//!
//!     caller --server ws://127.0.0.1:8080/ws --token T --me alice:Alice call bob
//!     caller --server ws://127.0.0.1:8080/ws --token T --me bob answer
//!
//!     caller --server ws://127.0.0.1:8080/ws --token T --me carol channel room-7
//!
//! A window shows the remote video (a grid in channels), the local preview
//! and an overlay of call state, RTT, bitrate, loss and quality; closing it
//! (or Escape) ends the call. Without a display, or with `--headless`, it
//! runs in the terminal only. Prints a status line once a second (and one
//! per remote user) and
//! `call ended: <reason>` or `left <channel>` at the end. Typing `leave`
//! (or `hangup`) on stdin ends the call or leaves the channel.
//!
//! To reproduce a quality complaint from files: `--audio-in FILE.wav` and
//! `--video-in FILE.y4m` (looped) replace the microphone and camera,
//! `--fps` sets the frame rate, `--record DIR` writes what is received
//! (video.y4m, or video-<uid>.y4m per channel member, and the mixed
//! audio.wav: with `--fake` on the speaker's timeline, with a real speaker
//! what it played), and `--stats-json FILE` writes one JSON object of
//! engine and per-remote stats per second (JSON lines).

mod window;

use std::io::BufRead;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use crossbeam_channel::{unbounded, Receiver};
use media::signal::{CallEndReason, CallEvent, ChannelEvent, ServerConfig, ServerState};
use media::transport::webrtc::WebRtcConfig;
use media::{
    AudioInputConfig, AudioOutputConfig, Engine, EngineConfig, Event, RemoteStats, VideoConfig,
    VideoDelay, VideoInputConfig, VoiceProcessing,
};

#[derive(Parser)]
#[command(about = "libmedia desktop caller")]
struct Args {
    /// Rendezvous server, ws://host:port/ws.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
    server: String,
    #[arg(long, default_value = "demo")]
    app: String,
    /// Token from `media-server token`.
    #[arg(long)]
    token: String,
    /// Who I am: openid[:nickname].
    #[arg(long)]
    me: String,
    /// Synthetic devices: a tone and the moving test pattern.
    #[arg(long)]
    fake: bool,
    /// Tone frequency with --fake.
    #[arg(long, default_value_t = 440.0)]
    tone: f32,
    /// No window (the status line still prints). Without a display the
    /// caller runs headless anyway.
    #[arg(long)]
    headless: bool,
    /// Write what is received into this folder (video.y4m, audio.wav).
    #[arg(long)]
    record: Option<PathBuf>,
    /// With --record: write only the audio (received video at 720p30 is
    /// ~40 MB/s of Y4M).
    #[arg(long, requires = "record")]
    record_audio_only: bool,
    /// How much delay the receiver may add to show remote video without
    /// freezes.
    #[arg(long, value_enum, default_value_t = Delay::Balanced)]
    video_delay: Delay,
    /// Delay the remote's audio (or video) so that the two play in sync
    /// (`EngineConfig::lip_sync`).
    #[arg(long)]
    lip_sync: bool,
    /// Send this WAV file (looped) instead of the microphone.
    #[arg(long)]
    audio_in: Option<PathBuf>,
    /// Send this Y4M file (looped) instead of the camera or test pattern.
    #[arg(long)]
    video_in: Option<PathBuf>,
    /// Frames per second to capture and send.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Write one JSON object of stats per second to this file (JSON lines:
    /// `{"t_s", "state", "engine": {...}, "remotes": [{...}]}`).
    #[arg(long)]
    stats_json: Option<PathBuf>,
    /// Offer only this address as ICE host candidate (default: every interface).
    #[arg(long)]
    host_ip: Option<std::net::IpAddr>,
    /// Hang up after this many seconds of call (default: run until the call ends).
    #[arg(long)]
    duration: Option<f64>,
    #[arg(long, default_value_t = 640)]
    width: u32,
    #[arg(long, default_value_t = 360)]
    height: u32,
    #[arg(long, default_value_t = 800_000)]
    bitrate: u32,
    /// Send the microphone's audio untouched: no echo cancellation, noise
    /// suppression or gain control (on by default for system microphones).
    #[arg(long)]
    no_voice_processing: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Delay {
    /// Show frames as soon as they are decoded.
    Immediate,
    /// Up to 100 ms.
    LowLatency,
    /// Up to 400 ms (the engine's default).
    Balanced,
    /// Up to 1 s.
    Smooth,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Answer {
    /// Accept every call.
    Auto,
    /// Ask on the terminal.
    Ask,
    /// Reject every call.
    Reject,
    /// Let it ring.
    Ignore,
}

#[derive(Subcommand)]
enum Command {
    /// Call a user by openid.
    Call {
        to: String,
        #[arg(long)]
        audio_only: bool,
        /// Give up if not answered within this many seconds.
        #[arg(long)]
        cancel_after: Option<f64>,
    },
    /// Wait for a call.
    Answer {
        #[arg(long, value_enum, default_value_t = Answer::Auto)]
        mode: Answer,
    },
    /// Join a channel: media flows with every broadcaster (a mesh).
    Channel {
        name: String,
        /// Only receive.
        #[arg(long)]
        audience: bool,
        /// Ask for this uid (0: the server assigns one).
        #[arg(long, default_value_t = 0)]
        uid: u32,
    },
}

fn reason_text(r: &CallEndReason) -> String {
    match r {
        CallEndReason::Offline => "offline",
        CallEndReason::Busy => "busy",
        CallEndReason::Rejected => "rejected",
        CallEndReason::Timeout => "timeout",
        CallEndReason::Cancelled => "cancelled",
        CallEndReason::Hangup => "hangup",
        CallEndReason::PeerDropped => "peer_dropped",
        CallEndReason::ConnectionLost => "connection_lost",
        CallEndReason::MediaFailed => "media_failed",
        CallEndReason::Error(code) => return format!("error {code}"),
    }
    .to_string()
}

fn main() {
    let started = Instant::now();
    let args = Args::parse();
    let (user_id, nickname) = match args.me.split_once(':') {
        Some((u, n)) => (u.to_string(), n.to_string()),
        None => (args.me.clone(), args.me.clone()),
    };
    let mut config = if args.fake {
        EngineConfig::fake()
    } else {
        EngineConfig::default()
    };
    config.video = VideoConfig {
        width: args.width,
        height: args.height,
        fps: args.fps,
        bitrate_bps: args.bitrate,
        ..Default::default()
    };
    config.stats_interval_ms = 1000;
    config.lip_sync = args.lip_sync;
    config.video_delay = match args.video_delay {
        Delay::Immediate => VideoDelay::Immediate,
        Delay::LowLatency => VideoDelay::LowLatency,
        Delay::Balanced => VideoDelay::Balanced,
        Delay::Smooth => VideoDelay::Smooth,
    };
    if args.no_voice_processing {
        config.voice_processing = VoiceProcessing::OFF;
    }
    if args.fake {
        config.audio_input = AudioInputConfig::Tone {
            freq_hz: args.tone,
            level_dbfs: -20.0,
        };
        config.video_input = VideoInputConfig::TestPattern;
        config.audio_output = AudioOutputConfig::Null;
    } else if media::Engine::cameras()
        .map(|c| c.is_empty())
        .unwrap_or(true)
    {
        eprintln!("caller: no camera found: sending audio only (receiving video still works)");
    }
    if let Some(path) = &args.audio_in {
        config.audio_input = AudioInputConfig::WavFile(path.clone());
    }
    if let Some(path) = &args.video_in {
        config.video_input = VideoInputConfig::Y4mFile(path.clone());
    }
    if let Some(dir) = &args.record {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", dir.display())));
        if !args.record_audio_only {
            config.record_remote_video = Some(dir.join("video.y4m"));
        }
        if args.fake {
            // No speaker: the file is the speaker (silences included).
            config.audio_output = AudioOutputConfig::WavFile(dir.join("audio.wav"));
        } else {
            config.record_remote_audio = Some(dir.join("audio.wav"));
        }
    }
    let mut stats_json = args.stats_json.as_ref().map(|path| {
        std::io::BufWriter::new(
            std::fs::File::create(path)
                .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", path.display()))),
        )
    });
    let engine =
        Engine::new(config).unwrap_or_else(|e| fail(&format!("cannot create the engine: {e}")));
    let (tx, events): (_, Receiver<Event>) = unbounded();
    engine.set_event_handler(Some(Box::new(move |e: &Event| {
        let _ = tx.send(e.clone());
    })));

    let mut server = ServerConfig::new(&args.server, &args.app, &user_id, &args.token);
    server.nickname = nickname;
    server.network = WebRtcConfig {
        host_ips: args.host_ip.into_iter().collect(),
        ..Default::default()
    };
    engine
        .connect_server(server)
        .unwrap_or_else(|e| fail(&format!("{e}")));
    let screen = Arc::new(window::Screen::default());
    let mut win = if args.headless {
        None
    } else {
        match window::CallWindow::open(&format!("libmedia caller: {user_id}")) {
            Ok(w) => {
                let s = screen.clone();
                engine.set_frame_handler(Some(Box::new(move |source, frame| s.put(source, frame))));
                Some(w)
            }
            Err(e) => {
                eprintln!("caller: cannot open a window ({e}); running headless");
                None
            }
        }
    };
    let mut overlay: Vec<String> = vec!["connecting".into()];
    let mut last_draw = Instant::now();

    let state = Arc::new(Mutex::new(String::from("connecting")));
    let quality = Arc::new(Mutex::new((0u8, 0u8)));
    let mut call_started: Option<Instant> = None;
    let mut ringing_since: Option<Instant> = None;
    let mut placed = false;
    let mut last_status = Instant::now();
    let mut remotes = std::collections::BTreeMap::<u32, RemoteStats>::new();
    let stdin_lines = spawn_stdin();
    let exit_code;
    loop {
        let wait = if win.is_some() { 15 } else { 100 };
        let event = events.recv_timeout(Duration::from_millis(wait));
        if let Ok(event) = event {
            match event {
                Event::Server(ServerState::Connected) => {
                    *state.lock().unwrap() = "online".into();
                    match &args.command {
                        Command::Call { to, audio_only, .. } if !placed => {
                            placed = true;
                            match engine.call(to, !audio_only) {
                                Ok(id) => {
                                    println!("calling {to} (call {id})");
                                    ringing_since = Some(Instant::now());
                                }
                                Err(e) => fail(&format!("call: {e}")),
                            }
                        }
                        Command::Answer { .. } => println!("waiting for calls as {user_id}"),
                        Command::Channel {
                            name,
                            audience,
                            uid,
                        } if !placed => {
                            placed = true;
                            if let Err(e) = engine.join_channel(name, *uid, *audience) {
                                fail(&format!("join: {e}"));
                            }
                        }
                        _ => {}
                    }
                }
                Event::Server(ServerState::Failed { code, message }) => {
                    println!("server failed: {code}: {message}");
                    exit_code = 3;
                    break;
                }
                Event::Server(s) => println!("server: {s:?}"),
                Event::Call(CallEvent::Incoming {
                    call_id,
                    from_user,
                    from_nickname,
                    video,
                }) => {
                    println!(
                        "incoming {} call from {from_user} ({from_nickname})",
                        if video { "video" } else { "audio" }
                    );
                    let mode = match &args.command {
                        Command::Answer { mode } => *mode,
                        _ => Answer::Reject,
                    };
                    let accept = match mode {
                        Answer::Auto => true,
                        Answer::Reject => false,
                        Answer::Ignore => continue,
                        Answer::Ask => {
                            println!("accept? [y/n]");
                            stdin_lines
                                .recv()
                                .map(|l| l.trim().eq_ignore_ascii_case("y"))
                                .unwrap_or(false)
                        }
                    };
                    let r = if accept {
                        engine.accept(&call_id)
                    } else {
                        engine.reject(&call_id)
                    };
                    if let Err(e) = r {
                        println!("answer failed: {e}");
                    } else if accept {
                        call_started = Some(Instant::now());
                        *state.lock().unwrap() = format!("in call with {from_user}");
                    } else {
                        println!("call ended: rejected");
                        exit_code = 0;
                        break;
                    }
                }
                Event::Call(CallEvent::Ringing { .. }) => println!("ringing"),
                Event::Call(CallEvent::RemoteMute {
                    audio_muted,
                    video_muted,
                    ..
                }) => {
                    println!(
                        "peer {} audio, {} video",
                        if audio_muted { "muted" } else { "unmuted" },
                        if video_muted { "muted" } else { "unmuted" }
                    )
                }
                Event::Call(CallEvent::Accepted { .. }) => {
                    println!("accepted");
                    ringing_since = None;
                    call_started = Some(Instant::now());
                    *state.lock().unwrap() = "in call".into();
                }
                Event::Call(CallEvent::Ended { reason, .. }) => {
                    println!("call ended: {}", reason_text(&reason));
                    // A call whose media failed did not work.
                    exit_code = if reason == CallEndReason::MediaFailed {
                        4
                    } else {
                        0
                    };
                    break;
                }
                Event::Channel(ChannelEvent::Joined { channel, uid, .. }) => {
                    println!("joined {channel} as uid {uid}");
                    call_started = Some(Instant::now());
                    *state.lock().unwrap() = format!("in {channel} as uid {uid}");
                }
                Event::Channel(ChannelEvent::Left { channel }) => {
                    println!("left {channel}");
                    exit_code = 0;
                    break;
                }
                Event::Channel(ChannelEvent::RemoteMute {
                    uid,
                    audio_muted,
                    video_muted,
                    ..
                }) => println!(
                    "uid {uid} {} audio, {} video",
                    if audio_muted { "muted" } else { "unmuted" },
                    if video_muted { "muted" } else { "unmuted" }
                ),
                Event::FirstRemoteVideoFrame { uid, width, height } => {
                    println!("first video from uid {uid} ({width}x{height})")
                }
                Event::Channel(ChannelEvent::UserJoined { uid, user_id, .. }) => {
                    println!("user joined: {uid} {user_id}")
                }
                Event::Channel(ChannelEvent::UserOffline { uid, dropped, .. }) => {
                    screen.forget(uid);
                    println!(
                        "user offline: {uid} {}",
                        if dropped { "dropped" } else { "quit" }
                    )
                }
                Event::Connection { uid, state: c } => match &args.command {
                    Command::Channel { .. } => println!("media with uid {uid}: {c:?}"),
                    _ => println!("media: {c:?}"),
                },
                Event::NetworkQuality { tx, rx, .. } => *quality.lock().unwrap() = (tx, rx),
                Event::ServerError {
                    code,
                    message,
                    channel,
                } => {
                    println!("server error {code}: {message}");
                    let joining = matches!(&args.command, Command::Channel { name, .. } if Some(name) == channel.as_ref());
                    if joining && call_started.is_none() {
                        println!("join refused: {code}");
                        exit_code = 5;
                        break;
                    }
                }
                Event::Error { kind, message } => println!("error ({kind:?}): {message}"),
                Event::TokenWillExpire { .. } => {
                    println!("token expires soon: mint a new one and restart")
                }
                _ => {}
            }
        }
        if let (
            Some(t),
            Command::Call {
                cancel_after: Some(after),
                ..
            },
        ) = (ringing_since, &args.command)
        {
            if t.elapsed().as_secs_f64() >= *after {
                ringing_since = None;
                let _ = engine.hangup();
            }
        }
        let mut end = false;
        if let (Some(t), Some(d)) = (call_started, args.duration) {
            end |= t.elapsed().as_secs_f64() >= d;
        }
        while let Ok(line) = stdin_lines.try_recv() {
            end |= matches!(line.trim(), "leave" | "hangup" | "quit");
        }
        if let Some(w) = win.as_mut() {
            if !w.is_open() {
                win = None;
                if call_started.is_none() {
                    // Nothing to end: closing the window quits.
                    exit_code = 0;
                    break;
                }
                end = true;
            } else if last_draw.elapsed() >= Duration::from_millis(33) {
                last_draw = Instant::now();
                if let Err(e) = w.draw(&screen, &overlay) {
                    eprintln!("caller: window: {e}; running headless");
                    win = None;
                }
            }
        }
        if last_status.elapsed() >= Duration::from_secs(1) {
            last_status = Instant::now();
            let s = engine.stats();
            let (q_up, q_down) = *quality.lock().unwrap();
            println!(
                "[{}] quality up {} down {} | rtt {} ms | send {} kbit/s, recv {} kbit/s | loss {:.1} % | video {} decoded, audio {} decoded | bwe {} kbit/s",
                state.lock().unwrap(),
                q_up,
                q_down,
                s.rtt_us / 1000,
                (s.video_send_bitrate_bps + s.audio_send_bitrate_bps) / 1000,
                (s.video_recv_bitrate_bps + s.audio_recv_bitrate_bps) / 1000,
                s.ingress_loss * 100.0,
                s.video_frames_decoded,
                s.audio_frames_decoded,
                s.bandwidth_estimate_bps / 1000
            );
            let remote_now = engine.remote_stats();
            for r in &remote_now {
                print_remote("  ", r);
                remotes.insert(r.uid, r.clone());
            }
            if let Some(out) = stats_json.as_mut() {
                let line = serde_json::json!({
                    "t_s": (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
                    "state": state.lock().unwrap().clone(),
                    "engine": s,
                    "remotes": remote_now,
                });
                use std::io::Write;
                if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                    eprintln!("caller: cannot write the stats file; stopping it");
                    stats_json = None;
                }
            }
            overlay = vec![
                state.lock().unwrap().clone(),
                format!(
                    "rtt {} ms  loss {:.1} %",
                    s.rtt_us / 1000,
                    s.ingress_loss * 100.0
                ),
                format!(
                    "send {} kbit/s  recv {} kbit/s",
                    (s.video_send_bitrate_bps + s.audio_send_bitrate_bps) / 1000,
                    (s.video_recv_bitrate_bps + s.audio_recv_bitrate_bps) / 1000
                ),
                format!(
                    "quality up {q_up} down {q_down} ({})",
                    quality_word(q_up.max(q_down))
                ),
            ];
            if remote_now.len() > 1 {
                overlay.push(format!("{} members with media", remote_now.len()));
            }
        }
        if end {
            call_started = None;
            *state.lock().unwrap() = "ending".into();
            let _ = match &args.command {
                Command::Channel { name, .. } => engine.leave_channel(name),
                _ => engine.hangup(),
            };
        }
    }
    let s = engine.stats();
    println!(
        "summary: video {} decoded ({} lost, {} dropped, {} nacks, {} keyframe requests, {} not recorded), audio {} decoded ({} concealed, {} fec); sending opus fec-hint {}% at {} kbit/s",
        s.video_frames_decoded,
        s.video_frames_lost,
        s.video_frames_dropped_recv,
        s.video_nacks_sent,
        s.video_keyframe_requests,
        s.video_frames_not_recorded,
        s.audio_frames_decoded,
        s.audio_concealed,
        s.audio_fec_recovered,
        s.audio_expected_loss_pct,
        s.audio_target_bitrate_bps / 1000
    );
    println!(
        "sent: video {} encoded of {} captured ({} dropped before the encoder, {} skipped by it)",
        s.video_frames_encoded,
        s.video_frames_captured,
        s.video_frames_dropped_send,
        s.video_encoder_skipped
    );
    for r in engine.remote_stats() {
        remotes.insert(r.uid, r);
    }
    for r in remotes.values() {
        print_remote("summary ", r);
    }
    drop(engine);
    let (cpu, wall) = (cpu_seconds(), started.elapsed().as_secs_f64());
    println!(
        "cpu: {cpu:.1} s over {wall:.1} s ({:.0} % of one core)",
        cpu * 100.0 / wall.max(0.001)
    );
    std::process::exit(exit_code);
}

/// User + system CPU time of this process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let u = unsafe {
        let mut u = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

fn quality_word(q: u8) -> &'static str {
    [
        "unknown",
        "excellent",
        "good",
        "poor",
        "bad",
        "very bad",
        "down",
    ]
    .get(q as usize)
    .copied()
    .unwrap_or("unknown")
}

fn print_remote(prefix: &str, r: &RemoteStats) {
    println!(
        "{prefix}uid {}: video {} decoded {}x{} {:.0} fps, audio {} decoded | rtt {} ms | recv {} kbit/s | loss {:.1} % | quality up {} down {} | {} freezes ({} ms) | sending audio red {}",
        r.uid,
        r.video_frames_decoded,
        r.video_width,
        r.video_height,
        r.video_fps,
        r.audio_frames_decoded,
        r.rtt_us / 1000,
        (r.video_recv_bitrate_bps + r.audio_recv_bitrate_bps) / 1000,
        r.ingress_loss * 100.0,
        r.tx_quality,
        r.rx_quality,
        r.video_freezes,
        r.video_frozen_ms,
        if r.audio_redundancy { "on" } else { "off" }
    );
}

fn spawn_stdin() -> Receiver<String> {
    let (tx, rx) = unbounded();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn fail(msg: &str) -> ! {
    eprintln!("caller: {msg}");
    std::process::exit(2);
}
