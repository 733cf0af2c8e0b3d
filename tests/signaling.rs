//! The engine's server connection against an in-process rendezvous server:
//! refused tokens, renewing a token during a call, reconnecting after the
//! server restarts.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::wait_for;
use crossbeam_channel::{unbounded, Receiver};
use media::signal::{CallEndReason, CallEvent, ServerConfig, ServerState};
use media::transport::webrtc::WebRtcConfig;
use media::{Engine, EngineConfig, Event, VideoConfig};
use media_server::hub::HubConfig;
use media_server::server::{start, RunningServer, ServerConfig as HubServerConfig};
use media_server::token::{mint, Claims};

fn unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(user: &str, ttl: i64) -> String {
    mint(
        &Claims {
            app_id: "demo".into(),
            user_id: user.into(),
            channel: "*".into(),
            exp: (unix() as i64 + ttl) as u64,
        },
        b"secret",
    )
}

fn server(rt: &tokio::runtime::Runtime, listen: &str, warning_s: u64) -> RunningServer {
    let mut hub = HubConfig {
        token_warning_s: warning_s,
        ..HubConfig::default()
    };
    hub.apps.insert("demo".into(), b"secret".to_vec());
    rt.block_on(start(HubServerConfig {
        listen: listen.parse().unwrap(),
        hub,
        ..Default::default()
    }))
    .unwrap()
}

fn engine(url: &str, user: &str, token: String) -> (Engine, Receiver<Event>) {
    let video = VideoConfig {
        width: 256,
        height: 144,
        fps: 15,
        bitrate_bps: 200_000,
        ..Default::default()
    };
    engine_with(url, user, token, video)
}

fn engine_with(
    url: &str,
    user: &str,
    token: String,
    video: VideoConfig,
) -> (Engine, Receiver<Event>) {
    let config = EngineConfig {
        video,
        ..EngineConfig::fake()
    };
    let e = Engine::new(config).unwrap();
    let (tx, rx) = unbounded();
    e.set_event_handler(Some(Box::new(move |ev: &Event| drop(tx.send(ev.clone())))));
    let mut cfg = ServerConfig::new(url, "demo", user, &token);
    cfg.network = WebRtcConfig {
        host_ips: vec!["127.0.0.1".parse().unwrap()],
        ..Default::default()
    };
    e.connect_server(cfg).unwrap();
    (e, rx)
}

fn wait(rx: &Receiver<Event>, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(e) if pred(&e) => return e,
            Ok(_) => {}
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

#[test]
fn refused_tokens_fail_with_their_code_and_do_not_retry() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = server(&rt, "127.0.0.1:0", 30);
    let url = format!("ws://{}/ws", s.addr);
    let forged = mint(
        &Claims {
            app_id: "demo".into(),
            user_id: "eve".into(),
            channel: "*".into(),
            exp: unix() + 60,
        },
        b"guess",
    );
    for (user, tok, code) in [
        ("al", token("al", -5), "token_expired"),
        ("eve", forged, "token_invalid"),
        ("bo", token("someone-else", 60), "token_wrong_scope"),
    ] {
        let (e, rx) = engine(&url, user, tok);
        let failed = wait(&rx, "failure", |ev| {
            matches!(ev, Event::Server(ServerState::Failed { .. }))
        });
        assert!(
            matches!(&failed, Event::Server(ServerState::Failed { code: c, .. }) if c == code),
            "{user}: {failed:?}"
        );
        assert_eq!(
            e.call("x", false).unwrap_err().kind(),
            media::ErrorKind::InvalidState
        );
        assert!(rx
            .recv_timeout(Duration::from_millis(1500))
            .map_or(true, |ev| !matches!(
                ev,
                Event::Server(ServerState::Reconnecting { .. })
            )));
    }
}

#[test]
fn a_token_renewed_during_a_call_keeps_the_call_up() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Warn a whole hour ahead: the short token below is warned about at once.
    let s = server(&rt, "127.0.0.1:0", 3600);
    let url = format!("ws://{}/ws", s.addr);
    let (alice, arx) = engine(&url, "alice", token("alice", 4));
    let (bob, brx) = engine(&url, "bob", token("bob", 3600));
    wait(&arx, "alice registered", |e| {
        *e == Event::Server(ServerState::Connected)
    });
    wait(&brx, "bob registered", |e| {
        *e == Event::Server(ServerState::Connected)
    });
    wait(&arx, "expiry warning", |e| {
        matches!(e, Event::TokenWillExpire { .. })
    });
    alice.call("bob", true).unwrap();
    let Event::Call(CallEvent::Incoming { call_id, .. }) = wait(&brx, "incoming", |e| {
        matches!(e, Event::Call(CallEvent::Incoming { .. }))
    }) else {
        unreachable!()
    };
    bob.accept(&call_id).unwrap();
    wait(&arx, "accepted", |e| {
        matches!(e, Event::Call(CallEvent::Accepted { .. }))
    });
    alice.renew_token(&token("alice", 3600)).unwrap();
    alice.mute_local_video(true);
    let muted = wait(&brx, "remote mute", |e| {
        matches!(e, Event::Call(CallEvent::RemoteMute { .. }))
    });
    assert!(
        matches!(
            muted,
            Event::Call(CallEvent::RemoteMute {
                video_muted: true,
                audio_muted: false,
                ..
            })
        ),
        "{muted:?}"
    );
    alice.mute_local_video(false);
    // Past the first token's expiry the call is still up and media flows.
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        if let Ok(e) = arx.recv_timeout(Duration::from_millis(100)) {
            assert!(
                !matches!(
                    e,
                    Event::Call(CallEvent::Ended { .. })
                        | Event::Server(ServerState::Failed { .. })
                ),
                "{e:?}"
            );
        }
    }
    let before = alice.stats().video_frames_decoded;
    let deadline = Instant::now() + Duration::from_secs(10);
    while alice.stats().video_frames_decoded <= before + 10 {
        assert!(Instant::now() < deadline, "media stopped");
        std::thread::sleep(Duration::from_millis(20));
    }
    alice.hangup().unwrap();
    let ended = wait(&brx, "hangup", |e| {
        matches!(e, Event::Call(CallEvent::Ended { .. }))
    });
    assert!(matches!(
        ended,
        Event::Call(CallEvent::Ended {
            reason: CallEndReason::Hangup,
            ..
        })
    ));
}

#[test]
fn the_engine_reconnects_after_the_server_restarts() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let s = server(&rt, "127.0.0.1:0", 30);
    let addr = s.addr;
    let url = format!("ws://{addr}/ws");
    let (e, rx) = engine(&url, "alice", token("alice", 3600));
    wait(&rx, "registered", |ev| {
        *ev == Event::Server(ServerState::Connected)
    });
    rt.block_on(s.shutdown());
    wait(&rx, "reconnecting", |ev| {
        matches!(ev, Event::Server(ServerState::Reconnecting { .. }))
    });
    let _again = server(&rt, &addr.to_string(), 30);
    wait(&rx, "registered again", |ev| {
        *ev == Event::Server(ServerState::Connected)
    });
    e.disconnect_server();
    wait(&rx, "disconnected", |ev| {
        *ev == Event::Server(ServerState::Disconnected)
    });
}

#[test]
fn a_ringing_call_connects_ahead_without_media_and_a_rejected_one_leaves_nothing() {
    let server = media::LocalServer::start("127.0.0.1:0", "demo", "secret").unwrap();
    let hour = Duration::from_secs(3600);
    let (alice, a_rx) = engine(&server.url(), "alice", server.token("alice", hour).unwrap());
    let (bob, b_rx) = engine(&server.url(), "bob", server.token("bob", hour).unwrap());
    let connected = |e: &Event| *e == Event::Server(ServerState::Connected);
    wait(&a_rx, "alice online", connected);
    wait(&b_rx, "bob online", connected);
    let media_connected = |e: &Event| {
        matches!(
            e,
            Event::Connection {
                uid: 0,
                state: media::engine::events::ConnectionState::Connected
            }
        )
    };

    // While it rings, both transports connect, but no microphone or camera
    // opens and nothing is sent.
    alice.call("bob", true).unwrap();
    let Event::Call(CallEvent::Incoming { call_id, .. }) = wait(&b_rx, "the call", |e| {
        matches!(e, Event::Call(CallEvent::Incoming { .. }))
    }) else {
        unreachable!()
    };
    wait(&a_rx, "alice's transport", media_connected);
    wait(&b_rx, "bob's transport", media_connected);
    for (who, e) in [("alice", &alice), ("bob", &bob)] {
        let s = e.stats();
        assert_eq!(
            (s.audio_frames_captured, s.video_frames_captured),
            (0, 0),
            "{who} captured before the answer"
        );
        assert_eq!(s.audio_packets_received + s.video_frames_received, 0);
    }
    // Answered: media flows at once over the connection already there.
    bob.accept(&call_id).unwrap();
    wait(&a_rx, "bob's video at alice", |e| {
        matches!(e, Event::FirstRemoteVideoFrame { uid: 0, .. })
    });
    wait(&b_rx, "alice's video at bob", |e| {
        matches!(e, Event::FirstRemoteVideoFrame { uid: 0, .. })
    });
    alice.hangup().unwrap();
    wait(&b_rx, "the hang-up", |e| {
        matches!(e, Event::Call(CallEvent::Ended { .. }))
    });

    // A call that is rejected after connecting ahead leaves no session:
    // the next one works the same way.
    alice.call("bob", true).unwrap();
    let Event::Call(CallEvent::Incoming { call_id, .. }) = wait(&b_rx, "the second call", |e| {
        matches!(e, Event::Call(CallEvent::Incoming { .. }))
    }) else {
        unreachable!()
    };
    wait(&b_rx, "bob's transport again", media_connected);
    bob.reject(&call_id).unwrap();
    wait(&a_rx, "the rejection", |e| {
        matches!(
            e,
            Event::Call(CallEvent::Ended {
                reason: CallEndReason::Rejected,
                ..
            })
        )
    });
    assert!(alice.peer_local_addrs().is_empty(), "alice's session ended");
    assert!(bob.peer_local_addrs().is_empty(), "bob's session ended");
    alice.call("bob", false).unwrap();
    let Event::Call(CallEvent::Incoming { call_id, .. }) = wait(&b_rx, "the third call", |e| {
        matches!(e, Event::Call(CallEvent::Incoming { .. }))
    }) else {
        unreachable!()
    };
    bob.accept(&call_id).unwrap();
    wait(&a_rx, "bob's audio at alice", |e| {
        matches!(e, Event::FirstRemoteAudioFrame { uid: 0 })
    });
}

#[test]
fn every_call_of_an_engine_starts_with_a_keyframe_nobody_has_to_ask_for() {
    // An engine places call after call, as an app does. When a call's
    // connection comes up, the next frame is an IDR, even if the video
    // sender made one a moment before (the session's first, sent before
    // the connection was up, which a receiver's request left from the
    // last call made count as an answer): 2-3 calls in 10 used to wait
    // ~400 ms for the receiver to ask.
    let server = media::LocalServer::start("127.0.0.1:0", "demo", "secret").unwrap();
    let hour = Duration::from_secs(3600);
    let sized = |user: &str| {
        let video = VideoConfig {
            width: 640,
            height: 360,
            fps: 30,
            bitrate_bps: 800_000,
            ..Default::default()
        };
        let token = server.token(user, hour).unwrap();
        let (e, rx) = engine_with(&server.url(), user, token, video);
        wait(&rx, "online", |e| {
            *e == Event::Server(ServerState::Connected)
        });
        (e, rx)
    };
    let (alice, a_rx) = sized("alice");
    let (bob, b_rx) = sized("bob");
    let mut asked = Vec::new();
    for _ in 0..10 {
        let before = alice.stats();
        alice.call("bob", true).unwrap();
        let Event::Call(CallEvent::Incoming { call_id, .. }) = wait(&b_rx, "the call", |e| {
            matches!(e, Event::Call(CallEvent::Incoming { .. }))
        }) else {
            unreachable!()
        };
        bob.accept(&call_id).unwrap();
        wait(&a_rx, "bob's video at alice", |e| {
            matches!(e, Event::FirstRemoteVideoFrame { uid: 0, .. })
        });
        let after = alice.stats();
        asked.push((
            after.video_keyframe_requests - before.video_keyframe_requests,
            after.video_frames_discarded_waiting_keyframe
                - before.video_frames_discarded_waiting_keyframe,
        ));
        alice.hangup().unwrap();
        wait(&b_rx, "the hang-up", |e| {
            matches!(e, Event::Call(CallEvent::Ended { .. }))
        });
        // The sessions are gone before the next call.
        wait_for("the sessions to end", Duration::from_secs(10), || {
            alice.peer_local_addrs().is_empty() && bob.peer_local_addrs().is_empty()
        });
    }
    // Per call: keyframe requests alice made and frames she discarded
    // waiting for a keyframe, up to bob's first frame on her screen.
    assert!(asked.iter().all(|&a| a == (0, 0)), "{asked:?}");
}
