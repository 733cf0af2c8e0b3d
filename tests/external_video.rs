//! Host-fed video (`VideoInputConfig::External`): frames the host pushes
//! as NV12 / NV21 / I420 with padded strides and a sensor rotation go
//! through the echo test's encoder, transport and decoder, and come back
//! upright, at their own size, with the test pattern's frame numbers in
//! order and a high PSNR; a size change restarts the encoder with a
//! keyframe; malformed frames and a non-external engine are refused.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use media::analysis::psnr_i420;
use media::devices::external::{PixelFormat, PushedFrame};
use media::devices::pattern::{self, Stamp};
use media::{
    Engine, EngineConfig, ErrorKind, FrameSource, VideoConfig, VideoFrame, VideoInputConfig,
};

fn pattern_frame(w: u32, h: u32, n: u32) -> VideoFrame {
    let mut buf = vec![0; VideoFrame::i420_len(w, h)];
    pattern::render(
        w,
        h,
        Stamp {
            frame_number: n,
            capture_us: 0,
        },
        &mut buf,
    );
    VideoFrame::new(w, h, buf, 0)
}

/// What a sensor mounted at `rotation` would store for the upright
/// `frame`, as `format` with rows padded to `pad` extra bytes: the planes
/// and strides to push with that rotation.
fn as_sensor(
    frame: &VideoFrame,
    rotation: u32,
    format: PixelFormat,
    pad: usize,
) -> (Vec<Vec<u8>>, [usize; 3], u32, u32) {
    // Turning the upright picture back by `rotation` gives the sensor's.
    let back = (360 - rotation) % 360;
    let sensor = PushedFrame {
        format: PixelFormat::I420,
        width: frame.width,
        height: frame.height,
        planes: [frame.y(), frame.u(), frame.v()],
        strides: [
            frame.y_stride(),
            frame.chroma_stride(),
            frame.chroma_stride(),
        ],
        rotation: back,
        timestamp_us: None,
    }
    .to_i420(0)
    .unwrap();
    let (w, h) = (sensor.width as usize, sensor.height as usize);
    let ys = w + pad;
    let mut y = vec![0x55; ys * h];
    for r in 0..h {
        y[r * ys..r * ys + w].copy_from_slice(&sensor.y()[r * w..(r + 1) * w]);
    }
    let (cw, ch) = (w / 2, h / 2);
    match format {
        PixelFormat::I420 => {
            let cs = cw + pad;
            let mut u = vec![0x55; cs * ch];
            let mut v = vec![0x55; cs * ch];
            for r in 0..ch {
                u[r * cs..r * cs + cw].copy_from_slice(&sensor.u()[r * cw..(r + 1) * cw]);
                v[r * cs..r * cs + cw].copy_from_slice(&sensor.v()[r * cw..(r + 1) * cw]);
            }
            (vec![y, u, v], [ys, cs, cs], sensor.width, sensor.height)
        }
        PixelFormat::Nv12 | PixelFormat::Nv21 => {
            let cs = 2 * cw + pad;
            let mut uv = vec![0x55; cs * ch];
            for r in 0..ch {
                for c in 0..cw {
                    let (u, v) = (sensor.u()[r * cw + c], sensor.v()[r * cw + c]);
                    let (a, b) = if format == PixelFormat::Nv12 {
                        (u, v)
                    } else {
                        (v, u)
                    };
                    uv[r * cs + 2 * c] = a;
                    uv[r * cs + 2 * c + 1] = b;
                }
            }
            (
                vec![y, uv, Vec::new()],
                [ys, cs, 0],
                sensor.width,
                sensor.height,
            )
        }
    }
}

fn engine() -> (Engine, Arc<Mutex<Vec<VideoFrame>>>) {
    let engine = Engine::new(EngineConfig {
        video_input: VideoInputConfig::External,
        video: VideoConfig {
            width: 320,
            height: 180,
            fps: 30,
            bitrate_bps: 600_000,
            ..Default::default()
        },
        stats_interval_ms: 0,
        ..EngineConfig::fake()
    })
    .unwrap();
    let back = Arc::new(Mutex::new(Vec::new()));
    let b = back.clone();
    engine.set_frame_handler(Some(Box::new(move |source, frame| {
        if matches!(source, FrameSource::Remote(_)) {
            b.lock().unwrap().push(frame.clone());
        }
    })));
    (engine, back)
}

/// Pushes pattern frames `first..first + count` of size `w` x `h` at about
/// 30 fps, each stored by a sensor at `rotation` as `format`.
fn push_run(
    engine: &Engine,
    w: u32,
    h: u32,
    first: u32,
    count: u32,
    rotation: u32,
    format: PixelFormat,
) {
    let start = Instant::now();
    for i in 0..count {
        let upright = pattern_frame(w, h, first + i);
        let (planes, strides, sw, sh) = as_sensor(&upright, rotation, format, 24);
        engine
            .push_video_frame(&PushedFrame {
                format,
                width: sw,
                height: sh,
                planes: [
                    &planes[0],
                    &planes[1],
                    planes.get(2).map_or(&[][..], |p| &p[..]),
                ],
                strides,
                rotation,
                timestamp_us: Some(5_000_000_000 + (first + i) as u64 * 33_333),
            })
            .unwrap();
        // Paced like a camera: the host's rate, not a burst.
        let due = start + Duration::from_micros(33_333 * (i as u64 + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
}

fn wait_for_frames(back: &Mutex<Vec<VideoFrame>>, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while back.lock().unwrap().len() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pushed_frames_come_back_upright_at_their_size_in_order() {
    let (engine, back) = engine();
    engine.start_echo_test().unwrap();
    // A portrait phone: the sensor stores 640x360 landscape rows that a 90°
    // turn makes a 360x640 upright picture. NV21, Android's default.
    push_run(&engine, 360, 640, 0, 45, 90, PixelFormat::Nv21);
    wait_for_frames(&back, 30);
    let portrait: Vec<VideoFrame> = std::mem::take(&mut *back.lock().unwrap());
    // Then landscape NV12 (iOS) at another size, and a 180° mount in I420.
    push_run(&engine, 640, 360, 1000, 45, 0, PixelFormat::Nv12);
    push_run(&engine, 320, 180, 2000, 45, 180, PixelFormat::I420);
    wait_for_frames(&back, 80);
    let rest: Vec<VideoFrame> = std::mem::take(&mut *back.lock().unwrap());
    let stats = engine.stats();
    engine.stop_echo_test();

    let check = |frames: &[VideoFrame], w: u32, h: u32, first: u32, last: u32| {
        let run: Vec<&VideoFrame> = frames
            .iter()
            .filter(|f| (f.width, f.height) == (w, h))
            .collect();
        let numbers: Vec<u32> = run
            .iter()
            .filter_map(|f| pattern::read_stamp(f.width, f.height, f.y(), f.y_stride()))
            .map(|s| s.frame_number)
            .filter(|n| (first..last).contains(n))
            .collect();
        assert!(
            numbers.len() >= 30,
            "{w}x{h}: {} pattern frames back of 45: {numbers:?}",
            numbers.len()
        );
        assert!(
            numbers.windows(2).all(|p| p[1] > p[0]),
            "{w}x{h} in order: {numbers:?}"
        );
        // Upright and faithful: PSNR against the frame that was pushed.
        let mut worst = f64::INFINITY;
        for f in &run {
            let Some(s) = pattern::read_stamp(f.width, f.height, f.y(), f.y_stride()) else {
                continue;
            };
            let psnr = psnr_i420(f, &pattern_frame(w, h, s.frame_number));
            worst = worst.min(psnr);
        }
        eprintln!(
            "{w}x{h}: {} frames back, worst PSNR {worst:.1} dB",
            numbers.len()
        );
        assert!(worst > 30.0, "{w}x{h}: worst PSNR {worst:.1} dB");
    };
    check(&portrait, 360, 640, 0, 45);
    check(&rest, 640, 360, 1000, 1045);
    check(&rest, 320, 180, 2000, 2045);
    // Each new size started with a keyframe (one more per size change).
    assert!(stats.video_keyframes_sent >= 3, "{stats:?}");
}

#[test]
fn bad_pushes_and_non_external_engines_are_refused() {
    let (engine, _) = engine();
    let upright = pattern_frame(320, 180, 0);
    let (planes, strides, w, h) = as_sensor(&upright, 0, PixelFormat::Nv12, 0);
    let good = PushedFrame {
        format: PixelFormat::Nv12,
        width: w,
        height: h,
        planes: [&planes[0], &planes[1], &[]],
        strides,
        rotation: 0,
        timestamp_us: None,
    };
    // Nothing runs yet: accepted and discarded.
    engine.push_video_frame(&good).unwrap();
    for bad in [
        PushedFrame { width: 321, ..good },
        PushedFrame {
            rotation: 30,
            ..good
        },
        PushedFrame {
            strides: [100, 320, 0],
            ..good
        },
        PushedFrame {
            planes: [&planes[0][..1000], &planes[1], &[]],
            ..good
        },
        PushedFrame {
            format: PixelFormat::I420,
            ..good
        },
    ] {
        assert_eq!(
            engine.push_video_frame(&bad).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
    let camera = Engine::new(EngineConfig::fake()).unwrap();
    assert_eq!(
        camera.push_video_frame(&good).unwrap_err().kind(),
        ErrorKind::InvalidState
    );
    // Switching the input to External makes pushes welcome.
    camera.set_video_input(VideoInputConfig::External).unwrap();
    camera.push_video_frame(&good).unwrap();
}
