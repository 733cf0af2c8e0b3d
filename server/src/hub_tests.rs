//! Hub behaviour on a virtual clock: no sockets, no sleeping.

use super::hub::*;
use crate::protocol::*;
use crate::token::{mint, Claims};

const T0: Now = Now {
    mono_ms: 1_000,
    unix_s: 1_700_000_000,
};

fn at(ms: u64) -> Now {
    Now {
        mono_ms: T0.mono_ms + ms,
        unix_s: T0.unix_s + ms / 1000,
    }
}

fn config() -> HubConfig {
    let mut c = HubConfig::default();
    c.apps.insert("demo".into(), b"secret".to_vec());
    c
}

fn token(user: &str, channel: &str, exp: u64) -> String {
    mint(
        &Claims {
            app_id: "demo".into(),
            user_id: user.into(),
            channel: channel.into(),
            exp,
        },
        b"secret",
    )
}

fn sent_to(out: &[Output], conn: ConnId) -> Vec<ServerMsg> {
    out.iter()
        .filter_map(|o| {
            if let Output::Send(c, m) = o {
                (*c == conn).then(|| m.clone())
            } else {
                None
            }
        })
        .collect()
}

fn closed(out: &[Output], conn: ConnId) -> bool {
    out.contains(&Output::Close(conn))
}

fn error_code(msgs: &[ServerMsg]) -> Option<String> {
    msgs.iter().find_map(|m| {
        if let ServerMsg::Error { code, .. } = m {
            Some(code.clone())
        } else {
            None
        }
    })
}

fn register(hub: &mut Hub, user: &str) -> ConnId {
    register_scoped(hub, user, "*")
}

fn register_scoped(hub: &mut Hub, user: &str, scope: &str) -> ConnId {
    let c = hub.connect(T0).unwrap();
    let out = hub.handle(
        c,
        ClientMsg::Register {
            app_id: "demo".into(),
            user_id: user.into(),
            nickname: user.to_uppercase(),
            token: token(user, scope, T0.unix_s + 3600),
        },
        T0,
    );
    assert!(
        matches!(sent_to(&out, c)[0], ServerMsg::Registered { .. }),
        "{out:?}"
    );
    c
}

fn call(hub: &mut Hub, from: ConnId, to: &str, id: &str) -> Vec<Output> {
    hub.handle(
        from,
        ClientMsg::Call {
            call_id: id.into(),
            to: to.into(),
            media: MediaKind::Video,
        },
        T0,
    )
}

/// `conn` accepts call `id`.
fn accept(hub: &mut Hub, conn: ConnId, id: &str) -> Vec<Output> {
    hub.handle(conn, ClientMsg::Accept { call_id: id.into() }, T0)
}

/// `conn` hangs up call `id`, giving `reason`.
fn hangup(hub: &mut Hub, conn: ConnId, id: &str, reason: Option<EndReason>) -> Vec<Output> {
    hub.handle(
        conn,
        ClientMsg::Hangup {
            call_id: id.into(),
            reason,
        },
        T0,
    )
}

fn ended(msgs: &[ServerMsg]) -> Option<EndReason> {
    msgs.iter().find_map(|m| {
        if let ServerMsg::CallEnded { reason, .. } = m {
            Some(*reason)
        } else {
            None
        }
    })
}

#[test]
fn tokens_are_checked_with_distinct_codes() {
    let mut hub = Hub::new(config());
    let mut try_register = |app: &str, user: &str, token: String| {
        let c = hub.connect(T0).unwrap();
        let out = hub.handle(
            c,
            ClientMsg::Register {
                app_id: app.into(),
                user_id: user.into(),
                nickname: String::new(),
                token,
            },
            T0,
        );
        (error_code(&sent_to(&out, c)), closed(&out, c))
    };
    assert_eq!(
        try_register("demo", "alice", token("alice", "*", T0.unix_s - 1)),
        (Some("token_expired".into()), true)
    );
    let forged = mint(
        &Claims {
            app_id: "demo".into(),
            user_id: "alice".into(),
            channel: "*".into(),
            exp: T0.unix_s + 60,
        },
        b"guess",
    );
    assert_eq!(
        try_register("demo", "alice", forged),
        (Some("token_invalid".into()), true)
    );
    assert_eq!(
        try_register("demo", "alice", token("bob", "*", T0.unix_s + 60)),
        (Some("token_wrong_scope".into()), true)
    );
    assert_eq!(
        try_register("other", "alice", token("alice", "*", T0.unix_s + 60)),
        (Some("unknown_app".into()), true)
    );
    assert_eq!(
        try_register("demo", "", token("", "*", T0.unix_s + 60)),
        (Some("bad_message".into()), true)
    );
    assert_eq!(
        try_register("demo", "alice", "garbage".into()),
        (Some("token_invalid".into()), true)
    );
}

#[test]
fn a_call_rings_is_accepted_relays_signals_and_hangs_up() {
    let mut hub = Hub::new(config());
    let (alice, bob) = (register(&mut hub, "alice"), register(&mut hub, "bob"));
    let out = call(&mut hub, alice, "bob", "c1");
    assert_eq!(
        sent_to(&out, bob),
        vec![ServerMsg::IncomingCall {
            call_id: "c1".into(),
            from: Peer {
                user_id: "alice".into(),
                nickname: "ALICE".into()
            },
            media: MediaKind::Video
        }]
    );
    assert_eq!(
        sent_to(&out, alice),
        vec![ServerMsg::Ringing {
            call_id: "c1".into()
        }]
    );
    let out = hub.handle(
        bob,
        ClientMsg::Accept {
            call_id: "c1".into(),
        },
        T0,
    );
    assert_eq!(
        sent_to(&out, alice),
        vec![ServerMsg::Accepted {
            call_id: "c1".into()
        }]
    );
    let sdp = serde_json::json!({"sdp": "v=0..."});
    let out = hub.handle(
        alice,
        ClientMsg::Signal {
            call_id: Some("c1".into()),
            channel: None,
            to: None,
            data: sdp.clone(),
        },
        T0,
    );
    assert_eq!(
        sent_to(&out, bob),
        vec![ServerMsg::Signal {
            call_id: Some("c1".into()),
            channel: None,
            from: "alice".into(),
            from_uid: None,
            data: sdp
        }]
    );
    let out = hangup(&mut hub, bob, "c1", None);
    assert_eq!(ended(&sent_to(&out, alice)), Some(EndReason::Hangup));
    // Both are free again.
    let out = call(&mut hub, bob, "alice", "c2");
    assert_eq!(
        sent_to(&out, bob),
        vec![ServerMsg::Ringing {
            call_id: "c2".into()
        }]
    );
}

#[test]
fn reject_busy_offline_cancel_and_timeout() {
    // Heartbeats far apart, so that only the ring timeout fires.
    let mut hub = Hub::new(HubConfig {
        heartbeat_ms: 60_000,
        ..config()
    });
    let (alice, bob, carol) = (
        register(&mut hub, "alice"),
        register(&mut hub, "bob"),
        register(&mut hub, "carol"),
    );
    // offline
    assert_eq!(
        ended(&sent_to(&call(&mut hub, alice, "dave", "c0"), alice)),
        Some(EndReason::Offline)
    );
    // reject
    call(&mut hub, alice, "bob", "c1");
    let out = hub.handle(
        bob,
        ClientMsg::Reject {
            call_id: "c1".into(),
        },
        T0,
    );
    assert_eq!(ended(&sent_to(&out, alice)), Some(EndReason::Rejected));
    // busy: bob is ringing for alice
    call(&mut hub, alice, "bob", "c2");
    assert_eq!(
        ended(&sent_to(&call(&mut hub, carol, "bob", "c3"), carol)),
        Some(EndReason::Busy)
    );
    // cancel
    let out = hub.handle(
        alice,
        ClientMsg::Cancel {
            call_id: "c2".into(),
        },
        T0,
    );
    assert_eq!(ended(&sent_to(&out, bob)), Some(EndReason::Cancelled));
    // timeout: both sides are told
    call(&mut hub, carol, "bob", "c4");
    assert!(hub
        .poll(at(29_000))
        .iter()
        .all(|o| !matches!(o, Output::Send(_, ServerMsg::CallEnded { .. }))));
    let out = hub.poll(at(30_500));
    assert_eq!(ended(&sent_to(&out, carol)), Some(EndReason::Timeout));
    assert_eq!(ended(&sent_to(&out, bob)), Some(EndReason::Timeout));
    // Misuse gets errors, not crashes.
    let out = hub.handle(
        alice,
        ClientMsg::Accept {
            call_id: "c4".into(),
        },
        T0,
    );
    assert_eq!(
        error_code(&sent_to(&out, alice)).as_deref(),
        Some("unknown_call")
    );
    let out = call(&mut hub, alice, "alice", "c5");
    assert_eq!(
        error_code(&sent_to(&out, alice)).as_deref(),
        Some("bad_message")
    );
}

#[test]
fn a_dropped_connection_ends_its_call() {
    let mut hub = Hub::new(config());
    let (alice, bob) = (register(&mut hub, "alice"), register(&mut hub, "bob"));
    call(&mut hub, alice, "bob", "c1");
    accept(&mut hub, bob, "c1");
    let out = hub.disconnect(bob, T0);
    assert_eq!(ended(&sent_to(&out, alice)), Some(EndReason::PeerDropped));
    assert_eq!(
        ended(&sent_to(&call(&mut hub, alice, "bob", "c2"), alice)),
        Some(EndReason::Offline)
    );
}

#[test]
fn a_hangup_for_failed_media_tells_the_peer_why() {
    let mut hub = Hub::new(config());
    let (alice, bob) = (register(&mut hub, "alice"), register(&mut hub, "bob"));
    call(&mut hub, alice, "bob", "c1");
    accept(&mut hub, bob, "c1");
    let out = hangup(&mut hub, bob, "c1", Some(EndReason::MediaFailed));
    assert_eq!(ended(&sent_to(&out, alice)), Some(EndReason::MediaFailed));
    // While ringing too (the connection is made before the answer).
    call(&mut hub, alice, "bob", "c2");
    let out = hangup(&mut hub, alice, "c2", Some(EndReason::MediaFailed));
    assert_eq!(ended(&sent_to(&out, bob)), Some(EndReason::MediaFailed));
    // Other reasons a client might claim are not passed on.
    call(&mut hub, alice, "bob", "c3");
    accept(&mut hub, bob, "c3");
    let out = hangup(&mut hub, alice, "c3", Some(EndReason::Busy));
    assert_eq!(ended(&sent_to(&out, bob)), Some(EndReason::Hangup));
}

#[test]
fn channels_assign_uids_list_members_and_report_quit_and_dropped() {
    let mut hub = Hub::new(config());
    let (a, b, c) = (
        register(&mut hub, "alice"),
        register(&mut hub, "bob"),
        register(&mut hub, "carol"),
    );
    let join = |hub: &mut Hub, conn, uid| {
        hub.handle(
            conn,
            ClientMsg::Join {
                channel: "room-7".into(),
                uid,
                role: Role::Broadcaster,
            },
            T0,
        )
    };
    let out = join(&mut hub, a, 0);
    let ServerMsg::Joined {
        uid: ua, members, ..
    } = &sent_to(&out, a)[0]
    else {
        panic!("{out:?}")
    };
    assert!(*ua != 0 && members.is_empty());
    let out = join(&mut hub, b, 42);
    let ServerMsg::Joined {
        uid: 42, members, ..
    } = &sent_to(&out, b)[0]
    else {
        panic!("{out:?}")
    };
    assert_eq!(
        members,
        &vec![Member {
            uid: *ua,
            user_id: "alice".into(),
            nickname: "ALICE".into(),
            role: Role::Broadcaster
        }]
    );
    assert_eq!(
        sent_to(&out, a),
        vec![ServerMsg::UserJoined {
            channel: "room-7".into(),
            member: Member {
                uid: 42,
                user_id: "bob".into(),
                nickname: "BOB".into(),
                role: Role::Broadcaster
            }
        }]
    );
    assert_eq!(
        error_code(&sent_to(&join(&mut hub, c, 42), c)).as_deref(),
        Some("uid_in_use")
    );
    let out = join(&mut hub, c, 0);
    let ServerMsg::Joined {
        uid: uc, members, ..
    } = &sent_to(&out, c)[0]
    else {
        panic!("{out:?}")
    };
    assert!(*uc != *ua && *uc != 42 && members.len() == 2);

    let out = hub.handle(
        b,
        ClientMsg::Leave {
            channel: "room-7".into(),
        },
        T0,
    );
    for other in [a, c] {
        assert_eq!(
            sent_to(&out, other),
            vec![ServerMsg::UserOffline {
                channel: "room-7".into(),
                uid: 42,
                reason: OfflineReason::Quit
            }]
        );
    }
    let out = hub.disconnect(c, T0);
    assert_eq!(
        sent_to(&out, a),
        vec![ServerMsg::UserOffline {
            channel: "room-7".into(),
            uid: *uc,
            reason: OfflineReason::Dropped
        }]
    );
}

#[test]
fn silent_connections_are_dropped_after_missed_heartbeats() {
    let mut hub = Hub::new(config());
    let (a, b) = (register(&mut hub, "alice"), register(&mut hub, "bob"));
    for conn in [a, b] {
        hub.handle(
            conn,
            ClientMsg::Join {
                channel: "r".into(),
                uid: 0,
                role: Role::Broadcaster,
            },
            T0,
        );
    }
    // alice keeps pinging every 2 s, bob goes silent.
    let mut dropped_at = None;
    for step in 1..=10u64 {
        let now = at(step * 1000);
        if step % 2 == 0 {
            assert_eq!(
                sent_to(&hub.handle(a, ClientMsg::Ping, now), a),
                vec![ServerMsg::Pong]
            );
        }
        let out = hub.poll(now);
        if sent_to(&out, a).iter().any(|m| {
            matches!(
                m,
                ServerMsg::UserOffline {
                    reason: OfflineReason::Dropped,
                    ..
                }
            )
        }) {
            assert!(closed(&out, b));
            dropped_at = Some(step);
            break;
        }
    }
    assert_eq!(dropped_at, Some(7), "3 missed 2 s heartbeats");
}

#[test]
fn mesh_cap_roles_and_channel_scope() {
    let mut hub = Hub::new(config());
    let conns: Vec<ConnId> = (0..6)
        .map(|i| register(&mut hub, &format!("u{i}")))
        .collect();
    for &c in &conns[..4] {
        let out = hub.handle(
            c,
            ClientMsg::Join {
                channel: "r".into(),
                uid: 0,
                role: Role::Broadcaster,
            },
            T0,
        );
        assert!(matches!(sent_to(&out, c)[0], ServerMsg::Joined { .. }));
    }
    let out = hub.handle(
        conns[4],
        ClientMsg::Join {
            channel: "r".into(),
            uid: 0,
            role: Role::Broadcaster,
        },
        T0,
    );
    assert_eq!(
        error_code(&sent_to(&out, conns[4])).as_deref(),
        Some("channel_full")
    );
    let out = hub.handle(
        conns[4],
        ClientMsg::Join {
            channel: "r".into(),
            uid: 0,
            role: Role::Audience,
        },
        T0,
    );
    assert!(matches!(
        sent_to(&out, conns[4])[0],
        ServerMsg::Joined {
            role: Role::Audience,
            ..
        }
    ));

    let scoped = register_scoped(&mut hub, "zed", "room-1");
    let out = hub.handle(
        scoped,
        ClientMsg::Join {
            channel: "room-2".into(),
            uid: 0,
            role: Role::Broadcaster,
        },
        T0,
    );
    assert_eq!(
        error_code(&sent_to(&out, scoped)).as_deref(),
        Some("token_wrong_scope")
    );
    let out = hub.handle(
        scoped,
        ClientMsg::Join {
            channel: "room-1".into(),
            uid: 0,
            role: Role::Broadcaster,
        },
        T0,
    );
    assert!(matches!(sent_to(&out, scoped)[0], ServerMsg::Joined { .. }));
}

#[test]
fn tokens_warn_before_expiry_renew_and_expire() {
    let mut hub = Hub::new(config());
    let c = hub.connect(T0).unwrap();
    let exp = T0.unix_s + 100;
    hub.handle(
        c,
        ClientMsg::Register {
            app_id: "demo".into(),
            user_id: "al".into(),
            nickname: String::new(),
            token: token("al", "*", exp),
        },
        T0,
    );
    let keepalive = |hub: &mut Hub, ms| hub.handle(c, ClientMsg::Ping, at(ms));
    keepalive(&mut hub, 60_000);
    assert!(sent_to(&hub.poll(at(60_000)), c).is_empty());
    keepalive(&mut hub, 71_000);
    assert_eq!(
        sent_to(&hub.poll(at(71_000)), c),
        vec![ServerMsg::TokenWillExpire { expires_at: exp }]
    );
    let out = hub.handle(
        c,
        ClientMsg::RenewToken {
            token: token("al", "*", exp + 3600),
        },
        at(72_000),
    );
    assert_eq!(
        sent_to(&out, c),
        vec![ServerMsg::TokenRenewed {
            expires_at: exp + 3600
        }]
    );
    let out = hub.handle(
        c,
        ClientMsg::RenewToken {
            token: token("bob", "*", exp + 3600),
        },
        at(73_000),
    );
    assert_eq!(
        error_code(&sent_to(&out, c)).as_deref(),
        Some("token_wrong_scope")
    );
    keepalive(&mut hub, 101_000);
    assert!(
        !closed(&hub.poll(at(101_000)), c),
        "renewed token still valid"
    );

    let d = hub.connect(T0).unwrap();
    hub.handle(
        d,
        ClientMsg::Register {
            app_id: "demo".into(),
            user_id: "dd".into(),
            nickname: String::new(),
            token: token("dd", "*", exp),
        },
        T0,
    );
    hub.handle(d, ClientMsg::Ping, at(100_500));
    let out = hub.poll(at(100_500));
    assert_eq!(
        error_code(&sent_to(&out, d)).as_deref(),
        Some("token_expired")
    );
    assert!(closed(&out, d));
}

#[test]
fn hostile_clients_get_errors_and_limits() {
    let mut hub = Hub::new(config());
    let c = hub.connect(T0).unwrap();
    let out = hub.handle(
        c,
        ClientMsg::Join {
            channel: "r".into(),
            uid: 0,
            role: Role::Broadcaster,
        },
        T0,
    );
    assert_eq!(
        error_code(&sent_to(&out, c)).as_deref(),
        Some("not_registered")
    );
    let out = hub.handle_malformed(c, "expected value at line 1", T0);
    assert_eq!(
        error_code(&sent_to(&out, c)).as_deref(),
        Some("bad_message")
    );
    // Flooding: past the burst, messages are refused.
    let mut limited = 0;
    let mut kicked = false;
    for _ in 0..300 {
        let out = hub.handle(c, ClientMsg::Ping, T0);
        limited += (error_code(&sent_to(&out, c)).as_deref() == Some("rate_limited")) as usize;
        kicked |= closed(&out, c);
    }
    assert!(limited > 90, "{limited}");
    assert!(kicked, "a client that keeps flooding is disconnected");
    assert_eq!(hub.connections(), 0);
    // Connection cap.
    let mut small = Hub::new(HubConfig {
        max_connections: 2,
        ..config()
    });
    // Only registered connections can fill it; unregistered ones give way
    // (see `unregistered_connections_cannot_lock_out_a_prompt_client`).
    register(&mut small, "a");
    register(&mut small, "b");
    assert!(small.connect(T0).is_none());
}

#[test]
fn a_second_login_replaces_the_first() {
    let mut hub = Hub::new(config());
    let first = register(&mut hub, "alice");
    let c = hub.connect(T0).unwrap();
    let out = hub.handle(
        c,
        ClientMsg::Register {
            app_id: "demo".into(),
            user_id: "alice".into(),
            nickname: String::new(),
            token: token("alice", "*", T0.unix_s + 60),
        },
        T0,
    );
    assert_eq!(
        error_code(&sent_to(&out, first)).as_deref(),
        Some("replaced")
    );
    assert!(closed(&out, first));
    assert_eq!(hub.connections(), 1);
}

fn register_as(hub: &mut Hub, user: &str, nickname: &str) -> (ConnId, Vec<Output>) {
    let c = hub.connect(T0).unwrap();
    let out = hub.handle(
        c,
        ClientMsg::Register {
            app_id: "demo".into(),
            user_id: user.into(),
            nickname: nickname.into(),
            token: token(user, "*", T0.unix_s + 3600),
        },
        T0,
    );
    (c, out)
}

#[test]
fn a_user_id_with_markup_is_refused_and_closed() {
    let mut hub = Hub::new(config());
    // The token is genuine: the id itself is what the hub refuses.
    for user in ["<b>x</b>", "a\"b", "a=b", "张三", ""] {
        let (c, out) = register_as(&mut hub, user, "x");
        assert_eq!(
            error_code(&sent_to(&out, c)).as_deref(),
            Some("bad_message"),
            "{user:?}: {out:?}"
        );
        assert!(closed(&out, c), "{user:?}: {out:?}");
        assert!(!sent_to(&out, c)
            .iter()
            .any(|m| matches!(m, ServerMsg::Registered { .. })));
    }
    let (c, out) = register_as(&mut hub, "alice@example.com", "Alice");
    assert!(
        matches!(sent_to(&out, c)[0], ServerMsg::Registered { .. }),
        "{out:?}"
    );
}

#[test]
fn nicknames_are_counted_in_characters_and_reach_channel_members() {
    let mut hub = Hub::new(config());
    let (c, out) = register_as(&mut hub, "ctl", "bell\u{7}");
    assert_eq!(
        error_code(&sent_to(&out, c)).as_deref(),
        Some("bad_message")
    );
    assert!(closed(&out, c));
    let (c, out) = register_as(&mut hub, "long", &"张".repeat(65));
    assert_eq!(
        error_code(&sent_to(&out, c)).as_deref(),
        Some("bad_message")
    );
    assert!(closed(&out, c));

    // 64 CJK characters (192 bytes) and markup are fine: clients show
    // nicknames as text.
    let cjk64 = "张".repeat(64);
    let markup = r#"<img src=x onerror="window.__pwned=1">"#;
    let (zhang, out) = register_as(&mut hub, "zhang", &cjk64);
    assert!(matches!(
        sent_to(&out, zhang)[0],
        ServerMsg::Registered { .. }
    ));
    let (mallory, out) = register_as(&mut hub, "mallory", markup);
    assert!(matches!(
        sent_to(&out, mallory)[0],
        ServerMsg::Registered { .. }
    ));
    let join = |hub: &mut Hub, conn, channel: &str| {
        hub.handle(
            conn,
            ClientMsg::Join {
                channel: channel.into(),
                uid: 0,
                role: Role::Broadcaster,
            },
            T0,
        )
    };
    join(&mut hub, zhang, "room");
    let out = join(&mut hub, mallory, "room");
    let ServerMsg::Joined { members, .. } = &sent_to(&out, mallory)[0] else {
        panic!("{out:?}")
    };
    assert_eq!(members[0].nickname, cjk64);
    let ServerMsg::UserJoined { member, .. } = &sent_to(&out, zhang)[0] else {
        panic!("{out:?}")
    };
    assert_eq!(member.nickname, markup);

    // Channel names use the identifier alphabet; the connection stays.
    let out = join(&mut hub, zhang, "<i>room</i>");
    assert_eq!(
        error_code(&sent_to(&out, zhang)).as_deref(),
        Some("bad_message")
    );
    assert!(!closed(&out, zhang));
}

fn ping(hub: &mut Hub, conn: ConnId, now: Now) -> Vec<Output> {
    hub.handle(conn, ClientMsg::Ping, now)
}

fn register_at(hub: &mut Hub, conn: ConnId, user: &str, now: Now) -> Vec<Output> {
    hub.handle(
        conn,
        ClientMsg::Register {
            app_id: "demo".into(),
            user_id: user.into(),
            nickname: String::new(),
            token: token(user, "*", T0.unix_s + 3600),
        },
        now,
    )
}

#[test]
fn unregistered_connections_must_register_in_time_and_pings_do_not_extend_it() {
    let mut hub = Hub::new(HubConfig {
        register_timeout_ms: 10_000,
        ..config()
    });
    let idle = hub.connect(T0).unwrap();
    let late = hub.connect(T0).unwrap();
    let prompt = hub.connect(T0).unwrap();
    assert!(matches!(
        sent_to(&register_at(&mut hub, prompt, "alice", at(500)), prompt)[0],
        ServerMsg::Registered { .. }
    ));
    // Pinging every heartbeat keeps `idle` from counting as silent, but
    // does not move its registration deadline.
    for ms in (1_000..10_000).step_by(1_000) {
        for c in [idle, late, prompt] {
            ping(&mut hub, c, at(ms));
        }
        assert!(hub.poll(at(ms)).is_empty(), "at {ms} ms");
    }
    assert!(!closed(&hub.poll(at(9_999)), idle));
    let out = hub.poll(at(10_000));
    for c in [idle, late] {
        assert_eq!(
            error_code(&sent_to(&out, c)).as_deref(),
            Some("register_timeout"),
            "{out:?}"
        );
        assert!(closed(&out, c));
    }
    assert!(sent_to(&out, prompt).is_empty() && !closed(&out, prompt));
    assert_eq!(hub.connections(), 1);
    // Too late: the connection is gone, so registering does nothing.
    assert!(register_at(&mut hub, late, "bob", at(10_100)).is_empty());
    // A registered connection lives on with its heartbeats.
    ping(&mut hub, prompt, at(14_000));
    assert!(hub.poll(at(15_000)).is_empty());
}

#[test]
fn unregistered_connections_cannot_lock_out_a_prompt_client() {
    let mut hub = Hub::new(HubConfig {
        max_connections: 10,
        max_unregistered: 3,
        ..config()
    });
    // An attacker opens connections as fast as it likes and never registers:
    // it never holds more than the unregistered budget.
    let mut attackers = Vec::new();
    let mut evicted = Vec::new();
    for _ in 0..1_000 {
        attackers.push(hub.connect(T0).expect("room is always made"));
        for o in hub.take_outputs() {
            match o {
                Output::Close(c) => evicted.push(c),
                Output::Send(c, m) => assert!(
                    error_code(std::slice::from_ref(&m)).as_deref() == Some("server_busy"),
                    "{c}: {m:?}"
                ),
            }
        }
        assert!(hub.connections() <= 3);
    }
    assert_eq!(evicted, attackers[..997].to_vec(), "the oldest go first");
    // A client that registers promptly gets in while they hold the budget.
    let alice = hub.connect(T0).unwrap();
    assert!(closed(&hub.take_outputs(), attackers[997]));
    assert!(matches!(
        sent_to(&register_at(&mut hub, alice, "alice", T0), alice)[0],
        ServerMsg::Registered { .. }
    ));
    // Registered connections may take every slot; then, and only then, a new
    // connection is refused. On the way, once the total is full, a newcomer
    // replaces an unregistered connection even below the budget.
    let mut closes = Vec::new();
    for i in 0..9 {
        let c = hub.connect(T0).unwrap();
        closes.extend(hub.take_outputs().into_iter().filter_map(|o| match o {
            Output::Close(c) => Some(c),
            Output::Send(..) => None,
        }));
        assert!(hub.connections() <= 10);
        let user = format!("user{i}");
        assert!(matches!(
            sent_to(&register_at(&mut hub, c, &user, T0), c)[0],
            ServerMsg::Registered { .. }
        ));
    }
    assert_eq!(closes, attackers[998..].to_vec());
    assert_eq!(hub.connections(), 10);
    assert!(hub.connect(T0).is_none(), "all ten are registered");
    assert!(hub.take_outputs().is_empty());
}

#[test]
fn a_flood_of_unregistered_connections_evicts_its_own_source_first() {
    let mut hub = Hub::new(HubConfig {
        max_unregistered: 10,
        ..config()
    });
    let (mallory, eve, alice) = (
        std::net::IpAddr::from([192, 0, 2, 1]),
        std::net::IpAddr::from([192, 0, 2, 2]),
        std::net::IpAddr::from([198, 51, 100, 7]),
    );
    for _ in 0..10 {
        hub.connect_from(T0, mallory).unwrap();
    }
    let slow = hub.connect_from(T0, alice).unwrap();
    assert!(closed(&hub.take_outputs(), 1), "mallory's oldest made room");
    // Two attackers go on opening connections as fast as they can: each new
    // one evicts the oldest of the busiest source, never alice's.
    for i in 0..1_000 {
        hub.connect_from(T0, if i % 2 == 0 { mallory } else { eve })
            .unwrap();
        let out = hub.take_outputs();
        assert!(!closed(&out, slow), "evicted at {i}");
        assert_eq!(
            out.iter().filter(|o| matches!(o, Output::Close(_))).count(),
            1
        );
    }
    assert!(matches!(
        sent_to(&register_at(&mut hub, slow, "alice", at(500)), slow)[0],
        ServerMsg::Registered { .. }
    ));
}
