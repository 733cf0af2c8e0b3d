//! A caller behind a NAT: three network namespaces (client, a router that
//! masquerades, and a "public" server side running Debian's coturn as STUN
//! server and a second engine). The client learns its public address as a
//! trickled server-reflexive candidate, and the call between the NATed
//! client and the public engine connects and carries video both ways.
//! Needs root (CI runs as root), iproute2, iptables and coturn
//! (scripts/setup.sh).

mod common;

use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{sh, wait_for, Killed};
use crossbeam_channel::{unbounded, Receiver, Sender};
use media::engine::events::ConnectionState;
use media::transport::webrtc::{Role, Signal, WebRtcConfig};
use media::{Engine, EngineConfig, Event, VideoConfig};

/// client (10.78.1.2) — router (10.78.1.1 | 10.78.2.1, masquerading) —
/// server (10.78.2.2). Removed on drop.
struct Nat {
    names: [String; 3],
}

impl Nat {
    fn new(tag: u32) -> Nat {
        let names = ["c", "r", "s"].map(|n| format!("media_nat{n}{tag}"));
        let [c, r, s] = &names;
        for ns in &names {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
            sh(&["ip", "netns", "add", ns]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        let link = |a: &str, a_dev: &str, b: &str, b_dev: &str| {
            sh(&[
                "ip", "link", "add", a_dev, "netns", a, "type", "veth", "peer", "name", b_dev,
                "netns", b,
            ]);
        };
        let (c0, r0, r1, s0) = (
            format!("nc{tag}"),
            format!("nrc{tag}"),
            format!("nrs{tag}"),
            format!("ns{tag}"),
        );
        link(c, &c0, r, &r0);
        link(r, &r1, s, &s0);
        for (ns, dev, addr) in [
            (c, &c0, "10.78.1.2/24"),
            (r, &r0, "10.78.1.1/24"),
            (r, &r1, "10.78.2.1/24"),
            (s, &s0, "10.78.2.2/24"),
        ] {
            sh(&["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        sh(&["ip", "-n", c, "route", "add", "default", "via", "10.78.1.1"]);
        sh(&[
            "ip",
            "netns",
            "exec",
            r,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ]);
        sh(&[
            "ip",
            "netns",
            "exec",
            r,
            "iptables",
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-o",
            &r1,
            "-j",
            "MASQUERADE",
        ]);
        Nat { names }
    }
}

impl Drop for Nat {
    fn drop(&mut self) {
        for ns in &self.names {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// Runs `f` on a new thread inside network namespace `ns`; threads it
/// starts (the engine's) stay there.
fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let file = std::fs::File::open(format!("/var/run/netns/{ns}")).unwrap();
    std::thread::spawn(move || {
        // SAFETY: a valid namespace fd; affects only this thread.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap()
}

struct Side {
    engine: Arc<Engine>,
    connected: Arc<AtomicU64>,
    decoded: Arc<AtomicU64>,
}

fn engine() -> Side {
    let config = EngineConfig {
        video: VideoConfig {
            width: 320,
            height: 180,
            fps: 15,
            bitrate_bps: 300_000,
            ..Default::default()
        },
        stats_interval_ms: 0,
        ..EngineConfig::fake()
    };
    let engine = Arc::new(Engine::new(config).unwrap());
    let (connected, decoded) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let c = connected.clone();
    engine.set_event_handler(Some(Box::new(move |e: &Event| {
        if let Event::Connection {
            state: ConnectionState::Connected,
            ..
        } = e
        {
            c.fetch_add(1, Relaxed);
        }
    })));
    let d = decoded.clone();
    engine.set_frame_handler(Some(Box::new(move |source, _| {
        if source.is_remote() {
            d.fetch_add(1, Relaxed);
        }
    })));
    Side {
        engine,
        connected,
        decoded,
    }
}

/// Starts `side`'s peer inside `ns`; its signals go to `out`.
fn start(ns: &str, side: &Side, role: Role, config: WebRtcConfig, out: Sender<Signal>) {
    let engine = side.engine.clone();
    in_netns(ns, move || {
        engine
            .start_peer(role, config, Box::new(move |s| drop(out.send(s))))
            .unwrap()
    });
}

#[test]
fn a_caller_behind_a_nat_learns_its_public_address_and_connects() {
    let nat = Nat::new(std::process::id() % 10_000);
    let [client_ns, _, server_ns] = nat.names.clone();
    let _stun = Killed(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &server_ns,
                "turnserver",
                "-n",
                "--stun-only",
                "--no-cli",
            ])
            .args(["--listening-ip", "10.78.2.2", "--listening-port", "3478"])
            .args(["--no-tls", "--no-dtls", "--log-file", "stdout"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("turnserver (coturn, installed by scripts/setup.sh)"),
    );
    wait_for("coturn to listen", Duration::from_secs(30), || {
        let out = Command::new("ip")
            .args(["netns", "exec", &server_ns, "ss", "-Hlun", "sport = :3478"])
            .output()
            .unwrap();
        !out.stdout.is_empty()
    });

    let (client, public) = (engine(), engine());
    let (to_public, from_client): (Sender<Signal>, Receiver<Signal>) = unbounded();
    let (to_client, from_public) = unbounded();
    let client_config = WebRtcConfig {
        host_ips: vec!["10.78.1.2".parse().unwrap()],
        stun_server: Some("10.78.2.2:3478".parse().unwrap()),
        ..Default::default()
    };
    let public_config = WebRtcConfig {
        host_ips: vec!["10.78.2.2".parse().unwrap()],
        ..Default::default()
    };
    start(
        &server_ns,
        &public,
        Role::Answerer,
        public_config,
        to_client,
    );
    start(&client_ns, &client, Role::Offerer, client_config, to_public);

    // Relay signaling both ways, noting the client's candidates. The
    // client's signals are held until its server-reflexive candidate has
    // come: once the public side has its offer, ICE's own checks through
    // the NAT can find the same public address first (as a peer-reflexive
    // candidate, which ranks higher), and the server-reflexive one is then
    // rightly dropped as redundant, not trickled (1 run in ~50).
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let relay = |from: Receiver<Signal>, to: Arc<Engine>, log: Option<Arc<Mutex<Vec<String>>>>| {
        std::thread::spawn(move || {
            let (mut held, mut open) = (Vec::new(), log.is_none());
            for s in from.iter() {
                if let (Some(log), Signal::Candidate(c)) = (&log, &s) {
                    open |= c.contains("typ srflx");
                    log.lock().unwrap().push(c.clone());
                }
                held.push(s);
                if !open {
                    continue;
                }
                for s in held.drain(..) {
                    if to.handle_peer_signal(s).is_err() {
                        return;
                    }
                }
            }
        })
    };
    let _r1 = relay(from_client, public.engine.clone(), Some(seen.clone()));
    let _r2 = relay(from_public, client.engine.clone(), None);

    wait_for(
        "a server-reflexive candidate",
        Duration::from_secs(30),
        || seen.lock().unwrap().iter().any(|c| c.contains("typ srflx")),
    );
    let srflx = seen
        .lock()
        .unwrap()
        .iter()
        .find(|c| c.contains("typ srflx"))
        .cloned()
        .unwrap();
    assert!(
        srflx.contains(" 10.78.2.1 "),
        "the router's public address: {srflx}"
    );

    wait_for(
        "both sides connected and decoding",
        Duration::from_secs(30),
        || {
            client.connected.load(Relaxed) > 0
                && public.connected.load(Relaxed) > 0
                && client.decoded.load(Relaxed) >= 15
                && public.decoded.load(Relaxed) >= 15
        },
    );
    client.engine.stop_peer();
    public.engine.stop_peer();
}
