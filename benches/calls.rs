//! Call set-up times, glass-to-glass latency, CPU and bytes on the wire for
//! two engines calling each other through a rendezvous server, all on
//! loopback in this process.
//!
//!     cargo bench --bench calls [-- CALLS SECONDS]
//!
//! - invite → ringing, accept → first remote video frame and accept →
//!   first remote audio frame played: p50 / max of CALLS calls (default
//!   10), answered at once, and again answered once the transport has
//!   connected while ringing (as when a person answers);
//! - glass-to-glass: the test pattern's embedded capture time against the
//!   receiving engine's clock when the decoded frame reaches the frame
//!   handler (both clocks are mapped onto one here);
//! - CPU: process CPU time over a SECONDS-long 720p30 call (default 10),
//!   divided by the two callers; bytes per second from the engines' stats.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver};
use media::devices::pattern;
use media::engine::events::ConnectionState;
use media::signal::{CallEvent, ServerConfig, ServerState};
use media::transport::webrtc::WebRtcConfig;
use media::{AudioInputConfig, Engine, EngineConfig, Event, VideoConfig};
use media_server::hub::HubConfig;
use media_server::token::{mint, Claims};

struct Caller {
    engine: Engine,
    events: Receiver<Event>,
    first_frame: Arc<Mutex<Option<Instant>>>,
    /// Decoded pattern frames: when they reached the handler, and their
    /// capture time on the sender's engine clock.
    arrivals: Arc<Mutex<Vec<(Instant, u64)>>>,
}

impl Caller {
    /// The instant the engine's clock counts from.
    fn epoch(&self) -> Instant {
        Instant::now() - Duration::from_micros(self.engine.now_us())
    }
}

/// Glass-to-glass latencies (ms) of frames `receiver` got from `sender`.
fn glass_to_glass(receiver: &Caller, sender: &Caller) -> Vec<f64> {
    let epoch = sender.epoch();
    receiver
        .arrivals
        .lock()
        .unwrap()
        .iter()
        .filter_map(|&(at, cap)| at.checked_duration_since(epoch + Duration::from_micros(cap)))
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect()
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (100 Hz on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

fn caller(url: &str, me: &str, video: VideoConfig) -> Caller {
    let config = EngineConfig {
        audio_input: AudioInputConfig::Tone {
            freq_hz: 440.0,
            level_dbfs: -20.0,
        },
        video,
        ..EngineConfig::fake()
    };
    let engine = Engine::new(config).unwrap();
    let (tx, events) = unbounded();
    engine.set_event_handler(Some(Box::new(move |e: &Event| drop(tx.send(e.clone())))));
    let first_frame = Arc::new(Mutex::new(None));
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let (ff, samples) = (first_frame.clone(), arrivals.clone());
    engine.set_frame_handler(Some(Box::new(move |source, f| {
        if !source.is_remote() {
            return;
        }
        let now = Instant::now();
        ff.lock().unwrap().get_or_insert(now);
        if let Some(stamp) = pattern::read_stamp(f.width, f.height, f.y(), f.y_stride()) {
            samples.lock().unwrap().push((now, stamp.capture_us));
        }
    })));
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let token = mint(
        &Claims {
            app_id: "bench".into(),
            user_id: me.into(),
            channel: "*".into(),
            exp,
        },
        b"secret",
    );
    let mut cfg = ServerConfig::new(url, "bench", me, &token);
    cfg.network = WebRtcConfig {
        host_ips: vec!["127.0.0.1".parse().unwrap()],
        ..Default::default()
    };
    engine.connect_server(cfg).unwrap();
    let c = Caller {
        engine,
        events,
        first_frame,
        arrivals,
    };
    wait(&c, |e| *e == Event::Server(ServerState::Connected));
    c
}

fn wait(c: &Caller, pred: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let e = c
            .events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("event in time");
        if pred(&e) {
            return e;
        }
    }
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let nums: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let calls = *nums.first().unwrap_or(&10);
    let seconds = *nums.get(1).unwrap_or(&10);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut hub = HubConfig::default();
    hub.apps.insert("bench".into(), b"secret".to_vec());
    let server = rt
        .block_on(media_server::server::start(
            media_server::server::ServerConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
                hub,
                ..Default::default()
            },
        ))
        .unwrap();
    let url = format!("ws://{}/ws", server.addr);

    let video = VideoConfig {
        width: 640,
        height: 360,
        fps: 30,
        bitrate_bps: 800_000,
        ..Default::default()
    };
    let alice = caller(&url, "alice", video);
    let bob = caller(&url, "bob", video);

    let (mut to_ringing, mut to_frame, mut to_frame_rung) = (Vec::new(), Vec::new(), Vec::new());
    let (mut to_audio, mut to_audio_rung) = (Vec::new(), Vec::new());
    for i in 0..2 * calls {
        let let_it_ring = i >= calls;
        *bob.first_frame.lock().unwrap() = None;
        *alice.first_frame.lock().unwrap() = None;
        let invited = Instant::now();
        alice.engine.call("bob", true).unwrap();
        let incoming = wait(&bob, |e| {
            matches!(e, Event::Call(CallEvent::Incoming { .. }))
        });
        wait(&alice, |e| {
            matches!(e, Event::Call(CallEvent::Ringing { .. }))
        });
        to_ringing.push(invited.elapsed().as_secs_f64() * 1000.0);
        let Event::Call(CallEvent::Incoming { call_id, .. }) = incoming else {
            unreachable!()
        };
        if let_it_ring {
            // The transport connects while the call rings.
            wait(&bob, |e| {
                matches!(
                    e,
                    Event::Connection {
                        state: ConnectionState::Connected,
                        ..
                    }
                )
            });
        }
        let decoded = alice.engine.stats().audio_frames_decoded;
        let accepted = Instant::now();
        bob.engine.accept(&call_id).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        // Polled every millisecond: the first remote video frame at the
        // frame handler, and the first of bob's audio frames alice's
        // playout decoded.
        let (mut first, mut heard) = (None, None);
        while first.is_none() || heard.is_none() {
            first = first.or(*alice.first_frame.lock().unwrap());
            if heard.is_none() && alice.engine.stats().audio_frames_decoded > decoded {
                heard = Some(Instant::now());
            }
            assert!(Instant::now() < deadline, "no video or no audio");
            std::thread::sleep(Duration::from_millis(1));
        }
        let ms = |t: Option<Instant>| (t.unwrap() - accepted).as_secs_f64() * 1000.0;
        if let_it_ring {
            to_frame_rung.push(ms(first));
            to_audio_rung.push(ms(heard));
        } else {
            to_frame.push(ms(first));
            to_audio.push(ms(heard));
        }
        alice.engine.hangup().unwrap();
        wait(&bob, |e| matches!(e, Event::Call(CallEvent::Ended { .. })));
        // Let the peer sessions wind down before the next call.
        std::thread::sleep(Duration::from_millis(300));
    }
    println!(
        "{calls} calls: invite -> ringing p50 {:.1} ms (max {:.1}); accept -> first remote video frame p50 {:.1} ms (max {:.1})",
        pct(&mut to_ringing.clone(), 0.5),
        pct(&mut to_ringing, 1.0),
        pct(&mut to_frame.clone(), 0.5),
        pct(&mut to_frame, 1.0)
    );
    println!(
        "{calls} calls answered after the transport connected while ringing: accept -> first remote video frame p50 {:.1} ms (max {:.1})",
        pct(&mut to_frame_rung.clone(), 0.5),
        pct(&mut to_frame_rung, 1.0)
    );
    println!(
        "accept -> first remote audio frame played: p50 {:.1} ms (max {:.1}) answered at once, p50 {:.1} ms (max {:.1}) answered after connecting",
        pct(&mut to_audio.clone(), 0.5),
        pct(&mut to_audio, 1.0),
        pct(&mut to_audio_rung.clone(), 0.5),
        pct(&mut to_audio_rung, 1.0)
    );
    drop(alice);
    drop(bob);

    // A longer 720p30 call for latency, CPU and bytes.
    let hd = VideoConfig {
        width: 1280,
        height: 720,
        fps: 30,
        bitrate_bps: 1_500_000,
        ..Default::default()
    };
    let alice = caller(&url, "alice", hd);
    let bob = caller(&url, "bob", hd);
    alice.engine.call("bob", true).unwrap();
    let Event::Call(CallEvent::Incoming { call_id, .. }) = wait(&bob, |e| {
        matches!(e, Event::Call(CallEvent::Incoming { .. }))
    }) else {
        unreachable!()
    };
    bob.engine.accept(&call_id).unwrap();
    while alice.first_frame.lock().unwrap().is_none() || bob.first_frame.lock().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(10));
    }
    alice.arrivals.lock().unwrap().clear();
    bob.arrivals.lock().unwrap().clear();
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let (sa0, sb0) = (alice.engine.stats(), bob.engine.stats());
    std::thread::sleep(Duration::from_secs(seconds));
    let (cpu1, wall) = (cpu_seconds(), t0.elapsed().as_secs_f64());
    let (sa1, sb1) = (alice.engine.stats(), bob.engine.stats());
    let mut g2g: Vec<f64> = glass_to_glass(&alice, &bob)
        .into_iter()
        .chain(glass_to_glass(&bob, &alice))
        .collect();
    let frames = sa1.video_frames_decoded - sa0.video_frames_decoded + sb1.video_frames_decoded
        - sb0.video_frames_decoded;
    println!(
        "720p30 call, {seconds} s: glass-to-glass p50 {:.1} ms p95 {:.1} ms over {} frames; CPU {:.0} % of one core per caller ({:.0} % for both); send {} kbit/s per caller (video {} + audio {}), {frames} frames decoded",
        pct(&mut g2g.clone(), 0.5),
        pct(&mut g2g, 0.95),
        g2g.len(),
        (cpu1 - cpu0) / wall * 100.0 / 2.0,
        (cpu1 - cpu0) / wall * 100.0,
        (sa1.video_send_bitrate_bps + sa1.audio_send_bitrate_bps) / 1000,
        sa1.video_send_bitrate_bps / 1000,
        sa1.audio_send_bitrate_bps / 1000,
    );
    alice.engine.hangup().ok();
    drop(alice);
    drop(bob);
    rt.block_on(server.shutdown());
}
