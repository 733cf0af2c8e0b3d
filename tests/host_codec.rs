//! A codec the host hands in (`EngineConfig::video_codec`, as a phone app
//! hands in MediaCodec or VideoToolbox): the echo test's frames go through
//! its encoders and decoders, keyframe and bitrate requests reach them,
//! and each is dropped when its stage ends. A host codec that cannot make
//! a decoder leaves local video running and says so with an error event;
//! encoders and decoders that break for good mid-call are replaced.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use media::codec::h264::{H264Frame, H264Settings, Openh264};
use media::devices::pattern;
use media::{
    Engine, EngineConfig, ErrorKind, Event, FrameSource, Result, VideoCodec, VideoCodecConfig,
    VideoConfig, VideoDecoder, VideoEncoder, VideoFrame,
};

/// What the engine asked of the codec.
#[derive(Default)]
struct Calls {
    encoders: AtomicUsize,
    encoded: AtomicUsize,
    keyframes_asked: AtomicUsize,
    last_bitrate: AtomicU32,
    decoders: AtomicUsize,
    decoded: AtomicUsize,
    live: AtomicUsize,
}

/// openh264 behind the host-codec seam, counting calls; `decoders` false
/// makes every decoder fail to open; `breaks_after` makes each encoder and
/// decoder fail every call after that many.
struct Counting {
    calls: Arc<Calls>,
    decoders: bool,
    breaks_after: usize,
}

struct Enc(Box<dyn VideoEncoder>, Arc<Calls>, usize);
struct Dec(Box<dyn VideoDecoder>, Arc<Calls>, usize);

fn broken() -> media::Error {
    media::Error::new(ErrorKind::Codec, "the session was invalidated")
}

impl VideoCodec for Counting {
    fn name(&self) -> &str {
        "counting"
    }
    fn encoder(&self, settings: H264Settings) -> Result<Box<dyn VideoEncoder>> {
        self.calls.encoders.fetch_add(1, SeqCst);
        self.calls.live.fetch_add(1, SeqCst);
        Ok(Box::new(Enc(
            Openh264.encoder(settings)?,
            self.calls.clone(),
            self.breaks_after,
        )))
    }
    fn decoder(&self) -> Result<Box<dyn VideoDecoder>> {
        if !self.decoders {
            return Err(media::Error::new(ErrorKind::Codec, "no hardware decoder"));
        }
        self.calls.decoders.fetch_add(1, SeqCst);
        self.calls.live.fetch_add(1, SeqCst);
        Ok(Box::new(Dec(
            Openh264.decoder()?,
            self.calls.clone(),
            self.breaks_after,
        )))
    }
}

impl VideoEncoder for Enc {
    fn settings(&self) -> H264Settings {
        self.0.settings()
    }
    fn request_keyframe(&mut self) {
        self.1.keyframes_asked.fetch_add(1, SeqCst);
        self.0.request_keyframe()
    }
    fn set_bitrate(&mut self, bps: u32) -> Result<()> {
        self.1.last_bitrate.store(bps, SeqCst);
        self.0.set_bitrate(bps)
    }
    fn encode(&mut self, frame: &VideoFrame, pts_ms: u64) -> Result<Option<H264Frame>> {
        if self.2 == 0 {
            return Err(broken());
        }
        self.2 -= 1;
        self.1.encoded.fetch_add(1, SeqCst);
        self.0.encode(frame, pts_ms)
    }
}

impl VideoDecoder for Dec {
    fn decode(&mut self, annexb: &[u8], capture_us: u64) -> Result<Option<VideoFrame>> {
        if self.2 == 0 {
            return Err(broken());
        }
        self.2 -= 1;
        self.1.decoded.fetch_add(1, SeqCst);
        self.0.decode(annexb, capture_us)
    }
}

impl Drop for Enc {
    fn drop(&mut self) {
        self.1.live.fetch_sub(1, SeqCst);
    }
}

impl Drop for Dec {
    fn drop(&mut self) {
        self.1.live.fetch_sub(1, SeqCst);
    }
}

struct Run {
    engine: Engine,
    calls: Arc<Calls>,
    /// Frame numbers of the pattern frames that came back.
    back: Arc<Mutex<Vec<u32>>>,
    errors: Arc<Mutex<Vec<String>>>,
}

fn start(decoders: bool, breaks_after: usize) -> Run {
    let calls = Arc::new(Calls::default());
    let engine = Engine::new(EngineConfig {
        video: VideoConfig {
            width: 320,
            height: 180,
            bitrate_bps: 500_000,
            ..Default::default()
        },
        video_codec: VideoCodecConfig::Host(Arc::new(Counting {
            calls: calls.clone(),
            decoders,
            breaks_after,
        })),
        stats_interval_ms: 0,
        ..EngineConfig::fake()
    })
    .unwrap();
    let back = Arc::new(Mutex::new(Vec::new()));
    let b = back.clone();
    engine.set_frame_handler(Some(Box::new(move |source, frame: &VideoFrame| {
        if matches!(source, FrameSource::Remote(_)) {
            if let Some(stamp) =
                pattern::read_stamp(frame.width, frame.height, frame.y(), frame.y_stride())
            {
                b.lock().unwrap().push(stamp.frame_number);
            }
        }
    })));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let e = errors.clone();
    engine.set_event_handler(Some(Box::new(move |event: &Event| {
        if let Event::Error { message, .. } = event {
            e.lock().unwrap().push(message.clone());
        }
    })));
    engine.start_echo_test().unwrap();
    Run {
        engine,
        calls,
        back,
        errors,
    }
}

/// Waits (at most 10 s) until `done` holds.
fn wait(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_echo_test_runs_through_the_hosts_codec() {
    let run = start(true, usize::MAX);
    wait(|| run.back.lock().unwrap().len() >= 30);
    run.engine.set_video_bitrate(300_000).unwrap();
    let c = &run.calls;
    wait(|| c.last_bitrate.load(SeqCst) == 300_000);
    let stats = run.engine.stats();
    run.engine.stop_echo_test();
    let back = run.back.lock().unwrap().clone();
    assert!(back.len() >= 30, "pattern frames back: {back:?}");
    assert!(back.windows(2).all(|w| w[0] < w[1]), "in order: {back:?}");
    assert_eq!(c.encoders.load(SeqCst), 1, "one encoder for one size");
    assert!(c.decoders.load(SeqCst) >= 1);
    assert!(c.encoded.load(SeqCst) >= back.len());
    assert!(c.decoded.load(SeqCst) >= back.len());
    assert!(
        c.keyframes_asked.load(SeqCst) >= 1,
        "the first frame is asked to be an IDR"
    );
    assert_eq!(c.last_bitrate.load(SeqCst), 300_000);
    assert_eq!(stats.video_decode_errors, 0);
    assert!(run.errors.lock().unwrap().is_empty(), "{:?}", run.errors);
    drop(run.engine);
    assert_eq!(c.live.load(SeqCst), 0, "every encoder and decoder dropped");
}

#[test]
fn a_host_codec_without_a_decoder_keeps_local_video_and_says_so() {
    let run = start(false, usize::MAX);
    let c = &run.calls;
    wait(|| c.encoded.load(SeqCst) >= 30 && !run.errors.lock().unwrap().is_empty());
    let stats = run.engine.stats();
    run.engine.stop_echo_test();
    assert!(c.encoded.load(SeqCst) >= 30, "local video goes on");
    assert!(
        run.back.lock().unwrap().is_empty(),
        "nothing to decode with"
    );
    assert_eq!(stats.video_frames_decoded, 0);
    let errors = run.errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "told once: {errors:?}");
    assert!(errors[0].contains("no hardware decoder"), "{errors:?}");
}

#[test]
fn encoders_and_decoders_that_break_for_good_are_replaced() {
    // Each encoder and decoder works for 20 frames, then fails every call
    // (as an iOS session invalidated in the background does).
    let run = start(true, 20);
    let c = &run.calls;
    wait(|| run.back.lock().unwrap().len() >= 70);
    run.engine.stop_echo_test();
    let back = run.back.lock().unwrap().clone();
    let (encoders, decoders) = (c.encoders.load(SeqCst), c.decoders.load(SeqCst));
    let errors = run.errors.lock().unwrap().clone();
    eprintln!(
        "{} frames back, {encoders} encoders, {decoders} decoders, {} errors",
        back.len(),
        errors.len()
    );
    assert!(back.len() >= 70, "video goes on: {back:?}");
    assert!(encoders >= 4, "broken encoders replaced: {encoders}");
    assert!(decoders >= 4, "broken decoders replaced: {decoders}");
    // One report per broken encoder, none per frame.
    assert!(errors.len() < encoders, "{errors:?}");
    assert!(
        errors.iter().all(|e| e.contains("invalidated")),
        "{errors:?}"
    );
    drop(run.engine);
    assert_eq!(c.live.load(SeqCst), 0, "every encoder and decoder dropped");
}
