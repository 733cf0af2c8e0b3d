//! The echo test from the command line: what the microphone hears comes
//! back out of the speaker, and what the camera sees comes back decoded,
//! through the whole pipeline. Synthetic devices by default; `--real-devices`
//! uses the system's microphone, speaker and camera.
//!
//!     cargo run --release --example echo -- --seconds 5
//!     cargo run --release --example echo -- --real-devices

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use media::analysis::{rms_dbfs, tone_frequency};
use media::devices::audio::read_wav_mono_48k;
use media::transport::impairment::Impairment;
use media::{
    AudioInputConfig, AudioOutputConfig, Engine, EngineConfig, Event, VideoConfig,
    VideoInputConfig, VoiceProcessing,
};

#[derive(Parser)]
#[command(about = "libmedia echo test: local audio and video through the full pipeline and back")]
struct Args {
    /// How long to run.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Use the system's microphone, speaker and first camera instead of a
    /// tone, a WAV file and the test pattern.
    #[arg(long)]
    real_devices: bool,
    #[arg(long, default_value_t = 640)]
    width: u32,
    #[arg(long, default_value_t = 360)]
    height: u32,
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// Video bitrate, bits per second.
    #[arg(long, default_value_t = 800_000)]
    bitrate: u32,
    /// Loss applied to audio packets on the loopback path, 0..1.
    #[arg(long, default_value_t = 0.0)]
    audio_loss: f64,
    /// Loss applied to video frames on the loopback path, 0..1.
    #[arg(long, default_value_t = 0.0)]
    video_loss: f64,
    /// Where the returned audio is written (fake devices only).
    #[arg(long, default_value = "echo-audio.wav")]
    record_audio: PathBuf,
    /// Also write the returned video to this Y4M file.
    #[arg(long)]
    record_video: Option<PathBuf>,
    /// Send the microphone's audio untouched: no echo cancellation, noise
    /// suppression or gain control (on by default for system microphones).
    #[arg(long)]
    no_voice_processing: bool,
}

fn main() {
    let args = Args::parse();
    let mut config = if args.real_devices {
        EngineConfig::default()
    } else {
        EngineConfig::fake()
    };
    if !args.real_devices {
        config.audio_input = AudioInputConfig::Tone {
            freq_hz: 440.0,
            level_dbfs: -20.0,
        };
        config.audio_output = AudioOutputConfig::WavFile(args.record_audio.clone());
        config.video_input = VideoInputConfig::TestPattern;
    }
    config.video = VideoConfig {
        width: args.width,
        height: args.height,
        fps: args.fps,
        bitrate_bps: args.bitrate,
        min_bitrate_bps: args.bitrate.min(100_000),
        max_bitrate_bps: args.bitrate.max(2_500_000),
    };
    config.loopback = Impairment {
        audio_loss: args.audio_loss,
        video_loss: args.video_loss,
        seed: 1,
        ..Default::default()
    };
    config.record_remote_video = args.record_video.clone();
    if args.no_voice_processing {
        config.voice_processing = VoiceProcessing::OFF;
    }

    let engine = match Engine::new(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("echo: cannot create the engine: {e}");
            std::process::exit(2);
        }
    };
    engine.set_event_handler(Some(Box::new(|event: &Event| match event {
        Event::Stats(_) => {}
        Event::Error { kind, message } => eprintln!("echo: error ({kind:?}): {message}"),
        other => eprintln!("echo: {other:?}"),
    })));
    let remote = Arc::new(AtomicU64::new(0));
    let counter = remote.clone();
    engine.set_frame_handler(Some(Box::new(move |source, _frame| {
        if source.is_remote() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    })));
    if let Err(e) = engine.start_echo_test() {
        eprintln!("echo: cannot start: {e}");
        if args.real_devices {
            eprintln!("echo: no usable microphone or speaker? Run without --real-devices to use synthetic ones.");
        }
        std::process::exit(1);
    }
    let start = Instant::now();
    let mut next = Duration::from_secs(1);
    while start.elapsed().as_secs_f64() < args.seconds {
        std::thread::sleep(Duration::from_millis(50));
        if start.elapsed() >= next {
            next += Duration::from_secs(1);
            let s = engine.stats();
            println!(
                "t={:>3}s video {:>4} sent {:>4} back ({} kbit/s, latency p50 {:.1} ms) | audio {:>4} decoded, {} lost, {} fec, {} concealed, {} underruns",
                start.elapsed().as_secs(),
                s.video_frames_encoded,
                remote.load(Ordering::Relaxed),
                s.video_send_bitrate_bps / 1000,
                s.video_end_to_end_latency.p50_us as f64 / 1000.0,
                s.audio_frames_decoded,
                s.audio_packets_lost,
                s.audio_fec_recovered,
                s.audio_concealed,
                s.audio_playout_underruns
            );
        }
    }
    engine.stop_echo_test();
    let s = engine.stats();
    drop(engine);
    println!(
        "video: captured {} encoded {} decoded {} rendered {} | latency capture->render p50 {:.2} ms p95 {:.2} ms (encode {:.2}, transport {:.2}, decode {:.2})",
        s.video_frames_captured,
        s.video_frames_encoded,
        s.video_frames_decoded,
        s.video_frames_rendered,
        s.video_end_to_end_latency.p50_us as f64 / 1000.0,
        s.video_end_to_end_latency.p95_us as f64 / 1000.0,
        s.video_encode_latency.p50_us as f64 / 1000.0,
        s.video_transport_latency.p50_us as f64 / 1000.0,
        s.video_decode_latency.p50_us as f64 / 1000.0,
    );
    // The verdict: at least a quarter of the frames sent came back (a
    // loaded machine still passes, a broken path does not), and with the
    // synthetic tone, the tone itself.
    let mut failed = Vec::new();
    let want_video = (args.seconds * args.fps as f64 / 4.0) as u64;
    let want_audio = (args.seconds * 50.0 / 4.0) as u64;
    // Real devices without a camera run the echo test audio-only.
    let camera = !args.real_devices || Engine::cameras().is_ok_and(|c| !c.is_empty());
    if camera && s.video_frames_decoded < want_video {
        failed.push(format!(
            "{} video frames came back (want >= {want_video})",
            s.video_frames_decoded
        ));
    }
    if s.audio_frames_decoded < want_audio {
        failed.push(format!(
            "{} audio frames came back (want >= {want_audio})",
            s.audio_frames_decoded
        ));
    }
    if !args.real_devices {
        match read_wav_mono_48k(&args.record_audio) {
            Ok(pcm) if pcm.len() > 48_000 => {
                let tail = &pcm[pcm.len() / 2..];
                let freq = tone_frequency(tail, 48_000).unwrap_or(0.0);
                println!(
                    "audio: returned tone {freq:.1} Hz at {:.1} dBFS (sent 440.0 Hz at -20.0 dBFS), written to {}",
                    rms_dbfs(tail),
                    args.record_audio.display()
                );
                if (freq - 440.0).abs() > 5.0 {
                    failed.push(format!("the tone came back at {freq:.1} Hz"));
                }
            }
            Ok(_) => failed.push("too little audio came back to measure".into()),
            Err(e) => failed.push(format!("cannot read {}: {e}", args.record_audio.display())),
        }
    }
    if failed.is_empty() {
        println!(
            "echo: ok: {} video and {} audio frames came back",
            s.video_frames_decoded, s.audio_frames_decoded
        );
    } else {
        println!("echo: FAILED: {}", failed.join("; "));
        std::process::exit(1);
    }
}
