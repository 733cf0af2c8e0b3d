//! A call whose media cannot connect ends on both sides with
//! `media_failed` (instead of sitting silent until someone hangs up), and a
//! short outage of a connected call heals by itself. Two callers in
//! network namespaces joined by a veth pair; the server on one side, so
//! signaling (TCP) works while UDP is blocked with iptables. Needs root
//! (CI runs as root) and iproute2 + iptables (scripts/setup.sh).

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

fn tag(k: u32) -> u32 {
    std::process::id() % 10_000 * 4 + k
}

const COMMON: [&str; 8] = [
    "--fake",
    "--headless",
    "--width",
    "320",
    "--height",
    "180",
    "--bitrate",
    "300000",
];

/// A caller as `me` inside namespace `ns`, offering `host_ip`, with
/// synthetic devices and its stdout piped; `args` ends with the command.
fn caller(ns: &str, url: &str, me: &str, host_ip: &str, args: &[&str]) -> std::process::Child {
    in_ns(ns, &caller_bin())
        .args(["--server", url, "--token", &token(me), "--me", me])
        .args(COMMON)
        .args(["--host-ip", host_ip])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn block_udp(ns: &str, insert: bool) {
    sh(&[
        "ip",
        "netns",
        "exec",
        ns,
        "iptables",
        if insert { "-I" } else { "-D" },
        "OUTPUT",
        "-p",
        "udp",
        "-j",
        "DROP",
    ]);
}

#[test]
fn a_call_whose_media_cannot_connect_ends_with_media_failed_on_both_sides() {
    build_call_binaries();
    let net = Net::new(tag(1));
    // Alice's UDP never leaves her namespace; TCP (signaling) does.
    block_udp(&net.a, true);
    let server = start_server(
        &["ip", "netns", "exec", &net.b],
        &["--listen", "10.231.0.2:8091"],
    );
    let url = server.url.clone();
    let mut bob = Killed(caller(&net.b, &url, "bob", "10.231.0.2", &["answer"]));
    let bob_lines = Lines::follow(&mut bob.0);
    bob_lines.expect("waiting for calls", Duration::from_secs(30));
    let started = Instant::now();
    let alice = caller(&net.a, &url, "alice", "10.231.0.1", &["call", "bob"]);
    // ICE gives up after 20 s (WebRtcConfig::connect_timeout); allow for
    // a slow machine, but far less than "until someone hangs up".
    let alice = finish(alice, Duration::from_secs(60));
    let took = started.elapsed();
    let alice_text = stdout(&alice);
    assert!(
        alice_text.contains("call ended: media_failed"),
        "alice's call ended because its media failed:\n{alice_text}"
    );
    assert_eq!(
        alice.status.code(),
        Some(4),
        "the caller exits 4 when media failed"
    );
    assert!(
        alice_text.contains("error (Network)"),
        "alice got an error event:\n{alice_text}"
    );
    bob_lines.expect("call ended: media_failed", Duration::from_secs(10));
    eprintln!("call ended with media_failed on both sides after {took:?}");
    assert!(
        took >= Duration::from_secs(15),
        "not before the connect timeout: {took:?}"
    );
    // Neither side decoded anything: the media really never connected.
    assert!(
        alice_text.contains("summary: video 0 decoded"),
        "{alice_text}"
    );
    drop(server);
}

#[test]
fn a_five_second_outage_of_a_connected_call_heals_by_itself() {
    build_call_binaries();
    let net = Net::new(tag(2));
    let server = start_server(
        &["ip", "netns", "exec", &net.b],
        &["--listen", "10.231.0.2:8092"],
    );
    let url = server.url.clone();
    let mut bob = Killed(caller(&net.b, &url, "bob", "10.231.0.2", &["answer"]));
    let bob_lines = Lines::follow(&mut bob.0);
    bob_lines.expect("waiting for calls", Duration::from_secs(30));
    let mut alice = Killed(caller(
        &net.a,
        &url,
        "alice",
        "10.231.0.1",
        &["--duration", "16", "call", "bob"],
    ));
    let alice_lines = Lines::follow(&mut alice.0);
    // "[in call] ... | video 120 decoded, audio ..." once a second.
    let decoded = |line: &str| -> Option<u64> {
        let rest = line.split(" | video ").nth(1)?;
        rest.split(' ').next()?.parse().ok()
    };
    let before = alice_lines
        .until(Duration::from_secs(30), |l| decoded(l).filter(|&n| n >= 60))
        .unwrap_or_else(|| panic!("video flowed before the outage:\n{}", alice_lines.text()));
    // Five seconds with no UDP at all, both ways.
    block_udp(&net.a, true);
    block_udp(&net.b, true);
    let outage = Instant::now();
    let during = alice_lines
        .until(Duration::from_secs(10), |l| {
            (outage.elapsed() >= Duration::from_secs(5))
                .then(|| decoded(l))
                .flatten()
        })
        .expect("status lines during the outage");
    block_udp(&net.a, false);
    block_udp(&net.b, false);
    let healed = Instant::now();
    let after = alice_lines
        .until(Duration::from_secs(8), |l| {
            decoded(l).filter(|&n| n >= during + 30)
        })
        .unwrap_or_else(|| panic!("video resumed after the outage:\n{}", alice_lines.text()));
    eprintln!(
        "decoded {before} before, {during} at the end of the 5 s outage, {after} {:?} after it",
        healed.elapsed()
    );
    assert!(
        during < before + 60,
        "the outage stopped the video ({before} -> {during})"
    );
    alice_lines.expect("call ended: hangup", Duration::from_secs(30));
    bob_lines.expect("call ended: hangup", Duration::from_secs(10));
    let text = alice_lines.text();
    assert!(!text.contains("media_failed"), "{text}");
    drop(server);
}
