//! The echo test end to end with fake devices: tone and test pattern in,
//! WAV file and frame handler out, through Opus, H.264, the loopback
//! transport, the jitter buffer and the decoders.

mod common;

use common::wait_for;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use media::analysis::{longest_gap, psnr_i420, rms_dbfs, tone_frequency};
use media::devices::audio::read_wav_mono_48k;
use media::devices::pattern::{self, Stamp};
use media::transport::impairment::Impairment;
use media::{
    AudioInputConfig, AudioOutputConfig, Engine, EngineConfig, VideoConfig, VideoFrame,
    VideoInputConfig,
};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("media-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Default)]
struct Received {
    numbers: Vec<u32>,
    psnr: Vec<f64>,
}

#[test]
fn echo_720p30_returns_every_frame_in_order_and_the_tone_intact() {
    let dir = temp_dir("echo720");
    let wav = dir.join("speaker.wav");
    let config = EngineConfig {
        audio_input: AudioInputConfig::Tone {
            freq_hz: 440.0,
            level_dbfs: -20.0,
        },
        audio_output: AudioOutputConfig::WavFile(wav.clone()),
        video_input: VideoInputConfig::TestPattern,
        video: VideoConfig {
            width: 1280,
            height: 720,
            fps: 30,
            bitrate_bps: 1_500_000,
            ..Default::default()
        },
        ..EngineConfig::fake()
    };
    let engine = Engine::new(config).unwrap();
    let received = Arc::new(Mutex::new(Received::default()));
    let sink = received.clone();
    engine.set_frame_handler(Some(Box::new(move |source, frame: &VideoFrame| {
        if !source.is_remote() {
            return;
        }
        let stamp = pattern::read_stamp(frame.width, frame.height, frame.y(), frame.y_stride())
            .expect("stamp readable after decode");
        let mut r = sink.lock().unwrap();
        if stamp.frame_number.is_multiple_of(5) {
            let mut src = vec![0; VideoFrame::i420_len(frame.width, frame.height)];
            pattern::render(frame.width, frame.height, stamp, &mut src);
            r.psnr.push(psnr_i420(
                &VideoFrame::new(frame.width, frame.height, src, 0),
                frame,
            ));
        }
        r.numbers.push(stamp.frame_number);
    })));
    engine.start_echo_test().unwrap();
    wait_for("120 decoded frames", Duration::from_secs(60), || {
        received.lock().unwrap().numbers.len() >= 120
    });
    engine.stop_echo_test();
    let stats = engine.stats();
    drop(engine);

    let r = received.lock().unwrap();
    assert!(
        r.numbers.windows(2).all(|w| w[0] < w[1]),
        "frames out of order: {:?}",
        r.numbers
    );
    let gaps: u64 = r.numbers.windows(2).map(|w| (w[1] - w[0] - 1) as u64).sum();
    let dropped = stats.video_frames_dropped_send
        + stats.video_encoder_skipped
        + stats.video_frames_lost
        + stats.video_frames_dropped_recv
        + stats.video_frames_discarded_waiting_keyframe
        + stats.video_decode_errors
        + stats.video_frames_dropped_render;
    assert!(
        gaps <= dropped,
        "{gaps} frames missing but only {dropped} drops counted: {stats:#?}"
    );
    let accounted = stats.video_frames_rendered + dropped;
    assert!(
        stats.video_frames_captured >= accounted && stats.video_frames_captured - accounted <= 6,
        "captured {} vs rendered {} + dropped {dropped}",
        stats.video_frames_captured,
        stats.video_frames_rendered
    );
    let mean_psnr = r.psnr.iter().sum::<f64>() / r.psnr.len() as f64;
    let min_psnr = r.psnr.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(
        mean_psnr >= 35.0 && min_psnr >= 32.0,
        "PSNR mean {mean_psnr:.1} min {min_psnr:.1}"
    );
    assert!(stats.video_end_to_end_latency.samples >= 100);
    assert!(
        stats.video_end_to_end_latency.p50_us > 0
            && stats.video_end_to_end_latency.p50_us < 300_000,
        "{stats:#?}"
    );

    let audio = read_wav_mono_48k(&wav).unwrap();
    assert!(
        audio.len() > 48_000 * 2,
        "only {} samples played",
        audio.len()
    );
    let start = audio
        .iter()
        .position(|s| s.abs() > 0.01)
        .expect("the tone came back");
    let steady = &audio[start + 24_000..audio.len() - 9_600];
    let freq = tone_frequency(steady, 48_000).unwrap();
    let level = rms_dbfs(steady);
    assert!((freq - 440.0).abs() <= 4.4, "frequency {freq:.2} Hz");
    assert!((level + 20.0).abs() <= 3.0, "level {level:.2} dBFS");
    assert_eq!(
        longest_gap(steady, 480, -45.0),
        0,
        "silent gap in the returned tone"
    );
    eprintln!(
        "psnr mean {mean_psnr:.2} min {min_psnr:.2}; tone {freq:.2} Hz {level:.2} dBFS; {stats:#?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn echo_with_5_percent_audio_loss_has_no_gaps() {
    let dir = temp_dir("echoloss");
    let wav = dir.join("speaker.wav");
    let config = EngineConfig {
        audio_input: AudioInputConfig::Tone {
            freq_hz: 440.0,
            level_dbfs: -20.0,
        },
        audio_output: AudioOutputConfig::WavFile(wav.clone()),
        video: VideoConfig {
            width: 320,
            height: 180,
            fps: 15,
            bitrate_bps: 300_000,
            ..Default::default()
        },
        loopback: Impairment {
            audio_loss: 0.05,
            seed: 7,
            ..Default::default()
        },
        ..EngineConfig::fake()
    };
    let engine = Engine::new(config).unwrap();
    engine.start_echo_test().unwrap();
    wait_for("250 decoded audio frames", Duration::from_secs(60), || {
        engine.stats().audio_frames_decoded >= 250
    });
    engine.stop_echo_test();
    let s = engine.stats();
    drop(engine);

    assert!(s.audio_packets_lost >= 5, "5% of ~260 packets lost: {s:#?}");
    assert!(s.audio_fec_recovered > 0, "FEC rebuilt some losses: {s:#?}");
    // Every loss was either rebuilt or concealed (losses at the very end may
    // not have reached playout yet).
    let repaired = s.audio_fec_recovered + s.audio_concealed - s.audio_playout_underruns;
    assert!(
        repaired + 3 >= s.audio_packets_lost && repaired <= s.audio_packets_lost + 3,
        "{s:#?}"
    );
    let audio = read_wav_mono_48k(&wav).unwrap();
    let start = audio
        .iter()
        .position(|s| s.abs() > 0.01)
        .expect("the tone came back");
    let steady = &audio[start + 4_800..audio.len() - 9_600];
    assert_eq!(
        longest_gap(steady, 480, -45.0),
        0,
        "silent gap despite concealment"
    );
    let freq = tone_frequency(steady, 48_000).unwrap();
    assert!((freq - 440.0).abs() <= 4.4, "frequency {freq:.2} Hz");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn stamps_of_the_pattern_source_are_sequential() {
    // Sanity of the measuring instrument itself.
    let mut buf = vec![0; VideoFrame::i420_len(640, 360)];
    for n in [0u32, 1, 1000, u32::MAX] {
        pattern::render(
            640,
            360,
            Stamp {
                frame_number: n,
                capture_us: 42,
            },
            &mut buf,
        );
        assert_eq!(
            pattern::read_stamp(640, 360, &buf, 640)
                .unwrap()
                .frame_number,
            n
        );
    }
}
