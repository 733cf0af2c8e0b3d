//! A channel with three headless callers (real processes, the real server,
//! WebRTC on loopback): every member receives every other member's video
//! and hears their tones mixed; an audience member receives everyone and
//! sends nothing, then freezes (SIGSTOP) and is reported `dropped` within
//! 10 s through missed heartbeats; one leaves and the others see `quit`;
//! one is killed with SIGKILL and the last sees `dropped` within 10 s.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use media::analysis::tone_level_dbfs;
use media::devices::audio::read_wav_mono_48k;

const USERS: [(&str, f64); 3] = [("alice", 440.0), ("bob", 660.0), ("carol", 880.0)];

fn member(server: &ServerProcess, me: &str, tone: f64, record: &Path) -> Child {
    member_as(server, me, tone, record, &[])
}

fn member_as(server: &ServerProcess, me: &str, tone: f64, record: &Path, role: &[&str]) -> Child {
    caller_cmd(&server.url, me)
        .args(["--headless", "--tone", &tone.to_string(), "--record"])
        .arg(record)
        .args(["channel", "room"])
        .args(role)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn three_members_receive_each_other_then_one_quits_and_one_is_dropped() {
    build_call_binaries();
    let server = start_server(&[], &["--listen", "127.0.0.1:0"]);
    let dir = std::env::temp_dir().join(format!("media-channel-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let long = Duration::from_secs(60);

    // Join one after another so that uids follow the order of USERS.
    let mut children = Vec::new();
    let mut lines = Vec::new();
    let mut uids = Vec::new();
    for (me, tone) in USERS {
        let mut child = member(&server, me, tone, &dir.join(me));
        let out = Lines::follow(&mut child);
        let joined = out.expect("joined room as uid ", long);
        uids.push(joined.rsplit(' ').next().unwrap().parse::<u32>().unwrap());
        children.push(Killed(child));
        lines.push(out);
    }

    // Everyone decodes at least 60 frames of each of the two others.
    for (i, out) in lines.iter().enumerate() {
        let others: Vec<u32> = uids.iter().copied().filter(|&u| u != uids[i]).collect();
        let mut seen = BTreeMap::new();
        let all = out.until(long, |l| {
            if let Some((uid, n)) = remote_decoded(l) {
                seen.insert(uid, n);
            }
            others
                .iter()
                .all(|u| seen.get(u).is_some_and(|&n| n >= 60))
                .then_some(())
        });
        assert!(
            all.is_some(),
            "{} did not decode 60 frames from each of {others:?}: {seen:?}\n{}",
            USERS[i].0,
            out.text()
        );
    }

    // An audience member receives every broadcaster and sends nothing,
    // even with its camera and microphone available.
    let mut dan = member_as(&server, "dan", 1000.0, &dir.join("dan"), &["--audience"]);
    let dan_out = Lines::follow(&mut dan);
    let dan = Killed(dan);
    let dan_uid: u32 = dan_out
        .expect("joined room as uid ", long)
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut seen = BTreeMap::new();
    let all = dan_out.until(long, |l| {
        if let Some((uid, n)) = remote_decoded(l) {
            seen.insert(uid, n);
        }
        uids.iter()
            .all(|u| seen.get(u).is_some_and(|&n| n >= 30))
            .then_some(())
    });
    assert!(
        all.is_some(),
        "audience decoded {seen:?}:\n{}",
        dan_out.text()
    );
    // Alice is linked with dan (a status line for his uid) but gets nothing.
    let from_dan = lines[0].until(long, |l| {
        remote_decoded(l).and_then(|(u, n)| (u == dan_uid).then_some(n))
    });
    assert_eq!(from_dan, Some(0), "alice decoded video from the audience");
    // Dan's process freezes (SIGSTOP): its connection stays open but its
    // heartbeats stop, and the others see it dropped within 10 s.
    let frozen = Instant::now();
    sh(&["kill", "-STOP", &dan.0.id().to_string()]);
    for out in &lines {
        out.expect(&format!("user offline: {dan_uid} dropped"), long);
    }
    let took = frozen.elapsed();
    eprintln!("a frozen member was dropped after {took:?}");
    assert!(took < Duration::from_secs(10), "dropped after {took:?}");
    drop(dan);
    let text = lines[0].text();
    let most_from_dan = text
        .lines()
        .filter_map(remote_decoded)
        .filter(|&(u, _)| u == dan_uid)
        .map(|(_, n)| n)
        .max();
    assert_eq!(
        most_from_dan,
        Some(0),
        "nothing ever came from the audience"
    );

    // Carol leaves: the others see her quit.
    say(&mut children[2].0, "leave");
    lines[2].expect("left room", long);
    for out in &lines[..2] {
        out.expect(&format!("user offline: {} quit", uids[2]), long);
    }
    let carol = std::mem::replace(&mut children[2].0, Command::new("true").spawn().unwrap());
    let out = finish(carol, long);
    assert!(out.status.success(), "carol exited with {}", out.status);

    // Bob is killed: Alice sees him dropped within 10 s.
    children[1].0.kill().unwrap();
    let killed = Instant::now();
    lines[0].expect(&format!("user offline: {} dropped", uids[1]), long);
    let took = killed.elapsed();
    eprintln!("dropped reported {took:?} after SIGKILL");
    assert!(
        took < Duration::from_secs(10),
        "dropped reported after {took:?}"
    );

    say(&mut children[0].0, "leave");
    lines[0].expect("left room", long);
    let alice = std::mem::replace(&mut children[0].0, Command::new("true").spawn().unwrap());
    assert!(finish(alice, long).status.success());
    drop(children);

    // The recordings of those who left hold the others' pattern frames in
    // order, and their mixed audio both others' tones (and not their own).
    for (i, me) in [(0, "alice"), (2, "carol")] {
        let rec = dir.join(me);
        for (j, (other, tone)) in USERS.iter().enumerate() {
            if j == i {
                continue;
            }
            let numbers = frame_numbers(&rec.join(format!("video-{}.y4m", uids[j])));
            assert!(
                numbers.len() >= 60,
                "{me} has {} readable frames of {other}",
                numbers.len()
            );
            assert!(numbers.windows(2).all(|w| w[0] < w[1]), "in order");
            let audio = read_wav_mono_48k(&rec.join("audio.wav")).unwrap();
            let level = tone_level_dbfs(&audio, 48_000, *tone);
            eprintln!(
                "{me}: {} frames of {other}, tone {level:.1} dBFS",
                numbers.len()
            );
            assert!(
                level > -45.0,
                "{me} heard {other}'s tone at {level:.1} dBFS"
            );
        }
        let audio = read_wav_mono_48k(&rec.join("audio.wav")).unwrap();
        let own = tone_level_dbfs(&audio, 48_000, USERS[i].1);
        assert!(own < -60.0, "{me} heard its own tone at {own:.1} dBFS");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
