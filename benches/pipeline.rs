//! Echo-test video latency, capture timestamp → decoded frame delivered to
//! the frame handler, as the engine's own stats report it, at 360p30 and
//! 720p30 with synthetic devices.
//!
//!     cargo bench --bench pipeline [-- SECONDS]

use std::time::{Duration, Instant};

use media::{Engine, EngineConfig, VideoConfig};

fn run(label: &str, width: u32, height: u32, bitrate_bps: u32, seconds: u64) {
    let config = EngineConfig {
        video: VideoConfig {
            width,
            height,
            fps: 30,
            bitrate_bps,
            ..Default::default()
        },
        stats_interval_ms: 0,
        ..EngineConfig::fake()
    };
    let engine = Engine::new(config).expect("engine");
    engine.set_frame_handler(Some(Box::new(|_, _| {})));
    engine.start_echo_test().expect("echo test");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(100));
    }
    engine.stop_echo_test();
    let s = engine.stats();
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "{label}: {} frames; capture->delivered p50 {:.2} ms p95 {:.2} ms | encode p50 {:.2} ms, transport p50 {:.2} ms, decode p50 {:.2} ms | dropped send {} recv {} render {}",
        s.video_end_to_end_latency.samples,
        ms(s.video_end_to_end_latency.p50_us),
        ms(s.video_end_to_end_latency.p95_us),
        ms(s.video_encode_latency.p50_us),
        ms(s.video_transport_latency.p50_us),
        ms(s.video_decode_latency.p50_us),
        s.video_frames_dropped_send,
        s.video_frames_dropped_recv,
        s.video_frames_dropped_render,
    );
}

fn main() {
    // `cargo bench` passes "--bench"; a bare number sets the duration.
    let seconds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    run("echo 360p30 800 kbit/s", 640, 360, 800_000, seconds);
    run("echo 720p30 1.5 Mbit/s", 1280, 720, 1_500_000, seconds);
}
