//! The desktop caller's window, on a virtual X display (Xvfb): during a
//! call it shows the remote video large (the test pattern's frame numbers
//! read back from the window's own pixels, and advancing), the local
//! preview in the corner and the overlay text.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use media::devices::pattern;
use media::VideoFrame;

/// A window's pixels as `xwd` dumps them (ZPixmap, 32 bits per pixel).
struct Shot {
    width: usize,
    height: usize,
    rgb: Vec<[u8; 3]>,
}

fn be(d: &[u8], i: usize) -> usize {
    u32::from_be_bytes(d[i * 4..i * 4 + 4].try_into().unwrap()) as usize
}

fn parse_xwd(d: &[u8]) -> Shot {
    let (header, width, height) = (be(d, 0), be(d, 4), be(d, 5));
    let (byte_order, bpp, bpl, ncolors) = (be(d, 7), be(d, 11), be(d, 12), be(d, 19));
    assert_eq!(bpp, 32, "a 24-bit display");
    let data = &d[header + ncolors * 12..];
    let mut rgb = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            let p: [u8; 4] = data[y * bpl + x * 4..][..4].try_into().unwrap();
            let v = if byte_order == 0 {
                u32::from_le_bytes(p)
            } else {
                u32::from_be_bytes(p)
            };
            rgb.push([(v >> 16) as u8, (v >> 8) as u8, v as u8]);
        }
    }
    Shot { width, height, rgb }
}

fn grab(display: &str, title: &str) -> Option<Shot> {
    let out = Command::new("xwd")
        .args(["-display", display, "-name", title, "-silent"])
        .output()
        .ok()?;
    (out.status.success() && out.stdout.len() > 100).then(|| parse_xwd(&out.stdout))
}

/// The window scaled down `k` times (box filter) to a luma-only I420 frame.
fn luma_frame(s: &Shot, k: usize) -> VideoFrame {
    let (w, h) = (s.width / k, s.height / k);
    let mut data = vec![128u8; VideoFrame::i420_len(w as u32, h as u32)];
    for y in 0..h {
        for x in 0..w {
            let mut sum = 0.0;
            for dy in 0..k {
                for dx in 0..k {
                    let [r, g, b] = s.rgb[(y * k + dy) * s.width + x * k + dx];
                    sum +=
                        16.0 + (65.738 * r as f64 + 129.057 * g as f64 + 25.064 * b as f64) / 256.0;
                }
            }
            data[y * w + x] = (sum / (k * k) as f64).round() as u8;
        }
    }
    VideoFrame::new(w as u32, h as u32, data, 0)
}

/// White text pixels of the overlay in the bottom-left corner.
fn overlay_white(s: &Shot) -> usize {
    (420..540)
        .flat_map(|y| (0..520).map(move |x| (x, y)))
        .filter(|&(x, y)| s.rgb[y * s.width + x] == [255, 255, 255])
        .count()
}

fn remote_frame_number(s: &Shot) -> Option<u32> {
    // The remote 320x180 picture fills the 960x540 window: scale it back.
    let f = luma_frame(s, 3);
    pattern::read_stamp(f.width, f.height, f.y(), f.y_stride()).map(|st| st.frame_number)
}

#[test]
fn the_callers_window_shows_remote_video_preview_and_overlay() {
    build_call_binaries();
    // Xvfb picks a free display and tells its number.
    let mut xvfb = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x720x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb (scripts/setup.sh installs it)");
    let mut line = String::new();
    BufReader::new(xvfb.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let display = format!(":{}", line.trim());
    let _xvfb = Killed(xvfb);

    let server = start_server(&[], &["--listen", "127.0.0.1:0"]);
    let caller = |me: &str| {
        let mut c = caller_cmd(&server.url, me);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        c
    };
    let mut bob = caller("bob")
        .env("DISPLAY", &display)
        .arg("answer")
        .spawn()
        .unwrap();
    let bob_out = Lines::follow(&mut bob);
    let mut bob = Killed(bob);
    let long = Duration::from_secs(60);
    bob_out.expect("waiting for calls", long);
    let mut alice = Killed(
        caller("alice")
            .args(["--headless", "--duration", "30", "call", "bob"])
            .spawn()
            .unwrap(),
    );
    bob_out.expect("first video from uid 0", long);

    // Read the pattern back from the window until two different frames
    // have been seen: the window shows live remote video.
    let title = "libmedia caller: bob";
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let mut last: Option<Shot> = None;
    // The overlay's figures appear with the first status line.
    while seen.len() < 2 || last.as_ref().is_none_or(|s| overlay_white(s) < 1_000) {
        assert!(
            Instant::now() < deadline,
            "no live pattern and overlay in the window (read {seen:?}):\n{}",
            bob_out.text()
        );
        if let Some(shot) = grab(&display, title) {
            if let Some(n) = remote_frame_number(&shot) {
                if seen.last() != Some(&n) {
                    seen.push(n);
                }
            }
            last = Some(shot);
        }
    }
    assert!(seen[1] > seen[0], "frame numbers advance: {seen:?}");
    let shot = last.unwrap();
    assert_eq!((shot.width, shot.height), (960, 540));

    // The local preview: the pattern's black and white code band, small,
    // in the bottom-right corner.
    let preview_band = (400..420)
        .flat_map(|y| (715..945).map(move |x| (x, y)))
        .map(|(x, y)| shot.rgb[y * 960 + x][1]);
    let (dark, bright) = preview_band.fold((0, 0), |(d, b), g| {
        (d + (g < 40) as u32, b + (g > 215) as u32)
    });
    assert!(
        dark > 100 && bright > 100,
        "preview code band: {dark} dark, {bright} bright pixels"
    );

    // Ending the call from the other side; bob keeps its window until then.
    let _ = alice.0.kill();
    let ended = bob_out.until(long, |l| l.starts_with("call ended").then(|| l.to_string()));
    assert!(ended.is_some(), "bob:\n{}", bob_out.text());
    let _ = bob.0.kill();
}
