//! Per-frame codec cost, ring throughput, the host's push / pull of PCM,
//! sample-rate conversion, voice processing (echo cancellation and the
//! rest, per 20 ms of microphone audio), and the Rust per-frame and
//! per-packet paths the size profile could slow: scaling a camera frame,
//! SRTP's ciphers.
//!
//!     cargo bench --bench codecs

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use media::codec::h264::{H264Decoder, H264Encoder, H264Settings};
use media::codec::opus::{OpusDecoder, OpusEncoder, OpusSettings, FRAME_SAMPLES};
use media::devices::pattern::{self, Stamp};
use media::VideoFrame;
use ringbuf::traits::{Consumer, Producer, Split};
use ringbuf::HeapRb;

fn speechlike(frame: usize) -> [f32; FRAME_SAMPLES] {
    let mut pcm = [0f32; FRAME_SAMPLES];
    for (i, s) in pcm.iter_mut().enumerate() {
        let t = (frame * FRAME_SAMPLES + i) as f32 / 48_000.0;
        let env = 0.5 + 0.5 * (2.0 * std::f32::consts::PI * 3.0 * t).sin();
        *s = env
            * 0.2
            * ((2.0 * std::f32::consts::PI * 180.0 * t).sin()
                + 0.5 * (2.0 * std::f32::consts::PI * 720.0 * t).sin());
    }
    pcm
}

fn opus(c: &mut Criterion) {
    let mut enc = OpusEncoder::new(OpusSettings::default()).unwrap();
    let frames: Vec<_> = (0..50).map(speechlike).collect();
    let mut packet = Vec::new();
    let mut i = 0;
    c.bench_function("opus/encode_20ms_32kbps_fec", |b| {
        b.iter(|| {
            enc.encode(&frames[i % frames.len()], &mut packet).unwrap();
            i += 1;
        })
    });
    let packets: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| {
            let mut p = Vec::new();
            enc.encode(f, &mut p).unwrap();
            p
        })
        .collect();
    let mut dec = OpusDecoder::new().unwrap();
    let mut out = [0f32; FRAME_SAMPLES];
    c.bench_function("opus/decode_20ms", |b| {
        b.iter(|| {
            dec.decode(&packets[i % packets.len()], &mut out).unwrap();
            i += 1;
        })
    });
    c.bench_function("opus/conceal_20ms", |b| {
        b.iter(|| dec.conceal(&mut out).unwrap())
    });
}

fn pattern_frames(w: u32, h: u32, n: u32) -> Vec<VideoFrame> {
    (0..n)
        .map(|i| {
            let mut buf = vec![0; VideoFrame::i420_len(w, h)];
            pattern::render(
                w,
                h,
                Stamp {
                    frame_number: i,
                    capture_us: i as u64 * 33_333,
                },
                &mut buf,
            );
            VideoFrame::new(w, h, buf, 0)
        })
        .collect()
}

fn h264(c: &mut Criterion) {
    for &(name, w, h, bps) in &[
        ("360p", 640u32, 360u32, 800_000u32),
        ("720p", 1280, 720, 1_500_000),
    ] {
        let frames = pattern_frames(w, h, 60);
        let mut enc = H264Encoder::new(H264Settings {
            width: w,
            height: h,
            max_fps: 30.0,
            bitrate_bps: bps,
        })
        .unwrap();
        let mut n = 0u64;
        let mut group = c.benchmark_group(format!("h264_{name}"));
        group.throughput(Throughput::Elements(1));
        group.bench_function("encode", |b| {
            b.iter(|| {
                let f = &frames[(n % 60) as usize];
                let out = enc.encode(f, n * 33).unwrap();
                n += 1;
                out
            })
        });
        // A fresh stream to decode: IDR then P frames, decoded in order.
        let mut enc = H264Encoder::new(H264Settings {
            width: w,
            height: h,
            max_fps: 30.0,
            bitrate_bps: bps,
        })
        .unwrap();
        let encoded: Vec<Vec<u8>> = frames
            .iter()
            .enumerate()
            .filter_map(|(i, f)| enc.encode(f, i as u64 * 33).unwrap().map(|e| e.data))
            .collect();
        group.bench_function("decode_60_frame_gop_per_frame", |b| {
            b.iter_batched(
                || H264Decoder::new().unwrap(),
                |mut dec| {
                    for e in &encoded {
                        dec.decode(e, 0).unwrap();
                    }
                },
                BatchSize::PerIteration,
            )
        });
        group.finish();
    }
}

fn ring(c: &mut Criterion) {
    let (mut prod, mut cons) = HeapRb::<f32>::new(48_000).split();
    let chunk = [0.25f32; 480];
    let mut out = [0f32; 480];
    let mut group = c.benchmark_group("ring");
    group.throughput(Throughput::Elements(480));
    group.bench_function("push_pop_10ms_chunk", |b| {
        b.iter(|| {
            prod.push_slice(&chunk);
            cons.pop_slice(&mut out)
        })
    });
    group.finish();
}

/// What a phone's audio callback pays: 10 ms of 48 kHz mono pushed, and
/// 10 ms pulled (from a ring the engine keeps filled).
fn host_audio(c: &mut Criterion) {
    use media::devices::audio::{AudioFormat, AudioInput, AudioOutput};
    use media::devices::external_audio::{ExternalAudio, ExternalAudioInput, ExternalAudioOutput};
    use std::sync::Arc;
    let format = AudioFormat {
        sample_rate: 48_000,
        channels: 1,
    };
    let audio = Arc::new(ExternalAudio::default());
    audio.set_capture_format(Some(format)).unwrap();
    audio.set_playout_format(Some(format)).unwrap();
    let (_, mut engine_in) = ExternalAudioInput::new(audio.clone())
        .start(Arc::new(|_| {}))
        .unwrap();
    let (_, mut engine_out) = ExternalAudioOutput::new(audio.clone())
        .start(Arc::new(|_| {}))
        .unwrap();
    let mic = [1000i16; 480];
    let mut speaker = [0i16; 480];
    let mut scratch = [0f32; 480];
    let mut group = c.benchmark_group("host_audio");
    group.throughput(Throughput::Elements(480));
    group.bench_function("push_10ms_48k_mono", |b| {
        b.iter(|| {
            audio.push(&mic).unwrap();
            engine_in.pop_slice(&mut scratch)
        })
    });
    group.bench_function("pull_10ms_48k_mono", |b| {
        b.iter(|| {
            engine_out.push_slice(&scratch);
            audio.pull(&mut speaker).unwrap()
        })
    });
    group.finish();
}

/// rubato's FFT resampler on 10 ms blocks, as a 44.1 kHz device or an
/// 8 / 16 kHz host needs.
fn resample(c: &mut Criterion) {
    use media::devices::resample::Resampler;
    let mut group = c.benchmark_group("resample");
    for (from, to) in [(44_100u32, 48_000u32), (48_000, 16_000), (8_000, 48_000)] {
        let block: Vec<f32> = (0..from / 100)
            .map(|i| (i as f32 * 0.05).sin() * 0.3)
            .collect();
        let mut r = Resampler::new(from, to);
        let mut out = Vec::with_capacity(4 * 480);
        group.throughput(Throughput::Elements(block.len() as u64));
        group.bench_function(format!("{from}_to_{to}_10ms"), |b| {
            b.iter(|| {
                out.clear();
                r.process(&block, &mut out);
                out.len()
            })
        });
    }
    group.finish();
}

fn voice_processing(c: &mut Criterion) {
    use media::analysis::talker;
    use media::voice::{FarEnd, VoiceProcessor, VoiceStages};
    // The far end talks; the microphone hears it 60 ms later at -6 dB.
    let far = talker(4.0, 220.0, 4.0, 1);
    let mic: Vec<f32> = (0..far.len())
        .map(|i| {
            if i >= 2_880 {
                0.5 * far[i - 2_880]
            } else {
                0.0
            }
        })
        .collect();
    let mut group = c.benchmark_group("voice_processing");
    let canceller_only = VoiceStages {
        echo_cancellation: true,
        ..VoiceStages::NONE
    };
    for (name, stages) in [
        ("all_stages", VoiceStages::ALL),
        ("echo_canceller", canceller_only),
    ] {
        let far_end = FarEnd::new();
        let mut p = VoiceProcessor::new(stages, &far_end).unwrap();
        let mut frame = [0f32; FRAME_SAMPLES];
        let mut i = 0usize;
        group.throughput(Throughput::Elements(FRAME_SAMPLES as u64));
        group.bench_function(format!("{name}_20ms"), |b| {
            b.iter(|| {
                let at = (i * FRAME_SAMPLES) % (far.len() - FRAME_SAMPLES);
                i += 1;
                far_end.played(far[at..at + FRAME_SAMPLES].try_into().unwrap());
                frame.copy_from_slice(&mic[at..at + FRAME_SAMPLES]);
                p.process(&mut frame);
                frame[0]
            })
        });
    }
    group.finish();
}

/// Work the engine's own Rust does per video frame and per packet.
fn rust_paths(c: &mut Criterion) {
    use media::devices::convert::scale;
    use media::transport::crypto::provider;
    let mut group = c.benchmark_group("rust_paths");
    let frame = &pattern_frames(1280, 720, 1)[0];
    group.bench_function("scale_720p_to_360p", |b| {
        b.iter(|| scale(frame, 640, 360).width)
    });
    let p = provider();
    let packet = vec![0x5au8; 1200];
    let mut out = vec![0u8; 1200 + 16];
    group.throughput(Throughput::Bytes(packet.len() as u64));
    let mut cm = p
        .srtp_provider
        .aes_128_cm_sha1_80()
        .create_cipher([3; 16], true);
    group.bench_function("srtp_aes_cm_hmac_sha1_1200B", |b| {
        b.iter(|| {
            cm.encrypt(&[9; 16], &packet, &mut out).unwrap();
            p.sha1_hmac_provider
                .sha1_hmac(&[4; 20], &[&out[..1200], &[0, 0, 0, 1]])
        })
    });
    let mut gcm = p
        .srtp_provider
        .aead_aes_128_gcm()
        .create_cipher([3; 16], true);
    group.bench_function("srtp_aes_gcm_1200B", |b| {
        b.iter(|| {
            gcm.encrypt(&[9; 12], &packet[..12], &packet, &mut out)
                .unwrap();
            out[1200]
        })
    });
    // Once per connection: a fresh key and its self-signed certificate.
    group.throughput(Throughput::Elements(1));
    group.bench_function("dtls_certificate", |b| {
        b.iter(|| {
            p.dtls_provider
                .generate_certificate()
                .map(|c| c.certificate.len())
        })
    });
    let cert = p.dtls_provider.generate_certificate().unwrap();
    // A session as str0m opens one: dimpl's state and its first flight.
    group.bench_function("dtls_session", |b| {
        b.iter(|| {
            let mut d = p
                .dtls_provider
                .new_dtls(&cert, std::time::Instant::now(), Default::default(), None)
                .unwrap();
            d.set_active(true);
            let mut buf = vec![0u8; 2048];
            format!("{:?}", d.poll_output(&mut buf)).len()
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    rust_paths,
    opus,
    h264,
    ring,
    host_audio,
    resample,
    voice_processing
);
criterion_main!(benches);
