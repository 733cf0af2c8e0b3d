//! Audio devices: the [`AudioInput`] / [`AudioOutput`] traits, and the fake
//! backends (tone, looping WAV file, silence; WAV / null / callback sinks).
//! The real backend lives in [`super::cpal_audio`].
//!
//! A started device exchanges interleaved f32 samples with the engine through
//! a lock-free SPSC ring: an input pushes into the ring it returns, an output
//! pulls from it. Fake devices run a thread paced at real time, so they
//! behave like a sound card with its own clock.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use ringbuf::traits::{Consumer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::ErrorCallback;
use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};

/// Sample rate and interleaved channel count of a running device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFormat {
    pub sample_rate: u32,
    pub channels: u16,
}

/// Ring capacity for a device: half a second of audio.
pub(crate) fn ring_capacity(format: AudioFormat) -> usize {
    (format.sample_rate as usize * format.channels as usize / 2).max(4096)
}

/// A microphone: once started, pushes interleaved samples into the ring it
/// hands back, until stopped or dropped.
pub trait AudioInput: Send {
    fn start(&mut self, on_error: ErrorCallback) -> Result<(AudioFormat, HeapCons<f32>)>;
    fn stop(&mut self);
}

/// A speaker: once started, pulls interleaved samples from the ring it hands
/// back (playing silence when the ring is empty), until stopped or dropped.
pub trait AudioOutput: Send {
    fn start(&mut self, on_error: ErrorCallback) -> Result<(AudioFormat, HeapProd<f32>)>;
    fn stop(&mut self);
}

/// A place where a fake speaker puts what it plays.
pub trait AudioSink: Send {
    /// Mono 48 kHz samples, in order, at real-time pace.
    fn write(&mut self, pcm: &[f32]) -> Result<()>;
    /// Flushes and closes. Called once when the speaker stops.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Discards everything.
pub struct NullSink;

impl AudioSink for NullSink {
    fn write(&mut self, _: &[f32]) -> Result<()> {
        Ok(())
    }
}

/// Writes a 16-bit mono 48 kHz WAV file.
pub struct WavSink {
    path: PathBuf,
    writer: Option<hound::WavWriter<std::io::BufWriter<std::fs::File>>>,
}

impl WavSink {
    pub fn create(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(&path, spec)
            .map_err(|e| Error::io(&format!("create {}", path.display()), e))?;
        Ok(WavSink {
            path,
            writer: Some(writer),
        })
    }
}

impl AudioSink for WavSink {
    fn write(&mut self, pcm: &[f32]) -> Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        for &s in pcm {
            w.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16)
                .map_err(|e| Error::io(&format!("write {}", self.path.display()), e))?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        match self.writer.take() {
            Some(w) => w
                .finalize()
                .map_err(|e| Error::io(&format!("finish {}", self.path.display()), e)),
            None => Ok(()),
        }
    }
}

impl Drop for WavSink {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Hands each block of played samples to a closure.
pub struct CallbackSink<F: FnMut(&[f32]) + Send>(pub F);

impl<F: FnMut(&[f32]) + Send> AudioSink for CallbackSink<F> {
    fn write(&mut self, pcm: &[f32]) -> Result<()> {
        (self.0)(pcm);
        Ok(())
    }
}

/// Reads a WAV file into mono f32 at 48 kHz (channels averaged, resampled).
pub fn read_wav_mono_48k(path: &std::path::Path) -> Result<Vec<f32>> {
    let mut reader = hound::WavReader::open(path)
        .map_err(|e| Error::io(&format!("open {}", path.display()), e))?;
    let spec = reader.spec();
    let ch = spec.channels.max(1) as usize;
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .collect::<std::result::Result<_, _>>(),
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect()
        }
    }
    .map_err(|e| Error::io(&format!("read {}", path.display()), e))?;
    let mono: Vec<f32> = interleaved
        .chunks(ch)
        .map(|c| c.iter().sum::<f32>() / c.len() as f32)
        .collect();
    let mut out = Vec::new();
    super::resample::Resampler::new(spec.sample_rate, 48_000).process(&mono, &mut out);
    Ok(out)
}

/// What a fake microphone produces.
#[derive(Debug, Clone, PartialEq)]
pub enum FakeSignal {
    /// A sine tone at `freq_hz` with RMS level `level_dbfs`.
    Tone {
        freq_hz: f32,
        level_dbfs: f32,
    },
    /// A WAV file, looped.
    WavFile(PathBuf),
    Silence,
}

const FAKE_CHUNK: usize = 480; // 10 ms at 48 kHz

/// Runs `tick` every 10 ms of real time on a named thread until stopped.
struct Paced {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Paced {
    fn spawn(name: &str, mut tick: impl FnMut() + Send + 'static) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let clock = Clock::new();
                let mut n = 0u64;
                while !flag.load(Ordering::Relaxed) {
                    tick();
                    n += 1;
                    let due = n * 10_000;
                    let now = clock.now_us();
                    if due > now {
                        std::thread::sleep(Duration::from_micros(due - now));
                    } else if now - due > 200_000 {
                        n = now / 10_000; // fell far behind (machine stalled): do not burst
                    }
                }
            })
            .map_err(|e| Error::internal(format!("spawn {name}: {e}")))?;
        Ok(Paced {
            stop,
            thread: Some(thread),
        })
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Paced {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What fills a fake microphone's next chunk.
type SampleSource = Box<dyn FnMut(&mut [f32]) + Send>;

/// A fake speaker's sink, shared with the thread that plays into it (and
/// taken back when it stops).
type SharedSink = Arc<std::sync::Mutex<Option<Box<dyn AudioSink>>>>;

/// A fake microphone producing a [`FakeSignal`] in real time, mono 48 kHz.
pub struct FakeInput {
    signal: FakeSignal,
    running: Option<Paced>,
}

impl FakeInput {
    pub fn new(signal: FakeSignal) -> Self {
        FakeInput {
            signal,
            running: None,
        }
    }
}

impl AudioInput for FakeInput {
    fn start(&mut self, _on_error: ErrorCallback) -> Result<(AudioFormat, HeapCons<f32>)> {
        self.stop();
        let format = AudioFormat {
            sample_rate: 48_000,
            channels: 1,
        };
        let (mut prod, cons) = HeapRb::<f32>::new(ring_capacity(format)).split();
        let mut chunk = [0f32; FAKE_CHUNK];
        let mut source: SampleSource = match &self.signal {
            FakeSignal::Silence => Box::new(|buf: &mut [f32]| buf.fill(0.0)),
            &FakeSignal::Tone {
                freq_hz,
                level_dbfs,
            } => {
                if !(1.0..24_000.0).contains(&freq_hz) || level_dbfs > 0.0 {
                    return Err(Error::invalid_argument(format!(
                        "tone {freq_hz} Hz at {level_dbfs} dBFS"
                    )));
                }
                let amp = 10f64.powf(level_dbfs as f64 / 20.0) * 2f64.sqrt();
                let step = 2.0 * std::f64::consts::PI * freq_hz as f64 / 48_000.0;
                let mut phase = 0.0f64;
                Box::new(move |buf: &mut [f32]| {
                    for s in buf {
                        *s = (amp * phase.sin()) as f32;
                        phase = (phase + step) % (2.0 * std::f64::consts::PI);
                    }
                })
            }
            FakeSignal::WavFile(path) => {
                let samples = read_wav_mono_48k(path)?;
                if samples.is_empty() {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        format!("{} holds no audio", path.display()),
                    ));
                }
                let mut pos = 0;
                Box::new(move |buf: &mut [f32]| {
                    for s in buf {
                        *s = samples[pos];
                        pos = (pos + 1) % samples.len();
                    }
                })
            }
        };
        self.running = Some(Paced::spawn("media-fake-mic", move || {
            source(&mut chunk);
            prod.push_slice(&chunk);
        })?);
        Ok((format, cons))
    }

    fn stop(&mut self) {
        if let Some(mut p) = self.running.take() {
            p.stop();
        }
    }
}

/// A fake speaker: plays mono 48 kHz into an [`AudioSink`] in real time.
pub struct FakeOutput {
    sink: Option<Box<dyn AudioSink>>,
    running: Option<(Paced, SharedSink)>,
}

impl FakeOutput {
    pub fn new(sink: Box<dyn AudioSink>) -> Self {
        FakeOutput {
            sink: Some(sink),
            running: None,
        }
    }
}

impl AudioOutput for FakeOutput {
    fn start(&mut self, on_error: ErrorCallback) -> Result<(AudioFormat, HeapProd<f32>)> {
        self.stop();
        let Some(sink) = self.sink.take() else {
            return Err(Error::invalid_state(
                "this fake speaker's sink was already finished; create a new one",
            ));
        };
        let format = AudioFormat {
            sample_rate: 48_000,
            channels: 1,
        };
        let (prod, mut cons) = HeapRb::<f32>::new(ring_capacity(format)).split();
        // The sink is only touched by the paced thread; the mutex lets stop()
        // take it back afterwards to finish it.
        let shared = Arc::new(std::sync::Mutex::new(Some(sink)));
        let held = shared.clone();
        let mut chunk = [0f32; FAKE_CHUNK];
        let mut failed = false;
        let paced = Paced::spawn("media-fake-speaker", move || {
            let n = cons.pop_slice(&mut chunk);
            chunk[n..].fill(0.0);
            let mut guard = held.lock().unwrap_or_else(|p| p.into_inner());
            if let (Some(sink), false) = (guard.as_mut(), failed) {
                if let Err(e) = sink.write(&chunk) {
                    failed = true;
                    on_error(e);
                }
            }
        })?;
        self.running = Some((paced, shared));
        Ok((format, prod))
    }

    fn stop(&mut self) {
        if let Some((mut paced, shared)) = self.running.take() {
            paced.stop();
            let sink = shared.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(mut sink) = sink {
                let _ = sink.finish();
            }
        }
    }
}

impl Drop for FakeOutput {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct FailingSink {
        writes: usize,
    }

    impl AudioSink for FailingSink {
        fn write(&mut self, _: &[f32]) -> Result<()> {
            self.writes += 1;
            if self.writes > 3 {
                return Err(Error::new(ErrorKind::DeviceUnavailable, "sink vanished"));
            }
            Ok(())
        }
    }

    #[test]
    fn a_failing_output_reports_one_error_and_keeps_running() {
        let errors = Arc::new(AtomicUsize::new(0));
        let seen = errors.clone();
        let (tx, rx) = crossbeam_channel::bounded(4);
        let mut out = FakeOutput::new(Box::new(FailingSink { writes: 0 }));
        let (format, mut ring) = out
            .start(Arc::new(move |e: Error| {
                assert_eq!(e.kind(), ErrorKind::DeviceUnavailable);
                seen.fetch_add(1, Ordering::Relaxed);
                let _ = tx.try_send(());
            }))
            .unwrap();
        assert_eq!(
            format,
            AudioFormat {
                sample_rate: 48_000,
                channels: 1
            }
        );
        rx.recv_timeout(Duration::from_secs(5))
            .expect("error reported");
        // The ring is still drained (the device thread lives on) and the
        // error is not repeated every 10 ms.
        ring.push_slice(&[0.5; 4800]);
        let start = std::time::Instant::now();
        while ringbuf::traits::Observer::occupied_len(&ring) > 0 {
            assert!(start.elapsed() < Duration::from_secs(5), "ring not drained");
            std::thread::sleep(Duration::from_millis(10));
        }
        out.stop();
        assert_eq!(errors.load(Ordering::Relaxed), 1);
        assert!(
            out.start(Arc::new(|_| {})).is_err(),
            "a finished sink cannot restart"
        );
    }

    #[test]
    fn fake_tone_input_produces_the_requested_level() {
        let mut input = FakeInput::new(FakeSignal::Tone {
            freq_hz: 1000.0,
            level_dbfs: -6.0,
        });
        let (_, mut ring) = input.start(Arc::new(|_| {})).unwrap();
        let mut got = Vec::new();
        let mut buf = [0f32; 960];
        let start = std::time::Instant::now();
        while got.len() < 9600 {
            assert!(start.elapsed() < Duration::from_secs(5));
            let n = ring.pop_slice(&mut buf);
            got.extend_from_slice(&buf[..n]);
            std::thread::sleep(Duration::from_millis(5));
        }
        input.stop();
        assert!((crate::analysis::rms_dbfs(&got) + 6.0).abs() < 0.1);
        let f = crate::analysis::tone_frequency(&got, 48_000).unwrap();
        assert!((f - 1000.0).abs() < 1.0, "{f}");
        assert!(
            FakeInput::new(FakeSignal::WavFile("/nonexistent.wav".into()))
                .start(Arc::new(|_| {}))
                .is_err()
        );
    }
}
