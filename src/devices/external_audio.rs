//! Audio for hosts that own the audio device: a phone app whose platform
//! voice processing (iOS VoiceProcessingIO, Android `VOICE_COMMUNICATION`
//! with `AcousticEchoCanceler`) records and plays, and whose CallKit /
//! ConnectionService decides when audio may run. The host pushes the
//! microphone's 16-bit PCM and pulls the speaker's, at its own rate
//! (8 to 48 kHz) and channel count (mono or stereo), in chunks of any size.
//!
//! Each direction is one lock-free ring of interleaved f32 at the host's
//! format. The host's end of it is claimed with a `try_lock` that never
//! waits: pushes and pulls convert through a stack buffer and copy, with no
//! allocation, blocking or system call. The engine's end is handed to the
//! audio stages as an ordinary [`AudioInput`] / [`AudioOutput`], so
//! resampling to and from 48 kHz mono, encoding and playout are theirs.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use ringbuf::traits::{Consumer, Observer, Producer};
use ringbuf::{CachingCons, CachingProd, HeapCons, HeapProd, HeapRb};

use super::audio::{ring_capacity, AudioFormat, AudioInput, AudioOutput};
use super::ErrorCallback;
use crate::error::{Error, Result};

/// Host sample rates the engine accepts, in Hz.
pub const HOST_RATES: std::ops::RangeInclusive<u32> = 8_000..=48_000;

/// Checks a host's audio format: 8..=48 kHz, one or two channels.
pub fn check_format(f: AudioFormat) -> Result<()> {
    if !HOST_RATES.contains(&f.sample_rate) || !(1..=2).contains(&f.channels) {
        return Err(Error::invalid_argument(format!(
            "external audio at {} Hz with {} channels: the rate must be 8000..=48000 and the channels 1 or 2",
            f.sample_rate, f.channels
        )));
    }
    Ok(())
}

/// Samples converted per step on the host's paths (a stack buffer).
const STEP: usize = 256;

/// One direction's ring and the host's end of it.
struct Port<E> {
    format: AudioFormat,
    rb: Arc<HeapRb<f32>>,
    host: E,
}

impl<E> Port<E> {
    fn new(format: AudioFormat, host: impl FnOnce(Arc<HeapRb<f32>>) -> E) -> Self {
        let rb = Arc::new(HeapRb::<f32>::new(ring_capacity(format)));
        Port {
            format,
            host: host(rb.clone()),
            rb,
        }
    }
}

/// The host's microphone and speaker rings, shared by the engine's calls
/// and its audio stages.
#[derive(Default)]
pub struct ExternalAudio {
    capture: Mutex<Option<Port<HeapProd<f32>>>>,
    playout: Mutex<Option<Port<HeapCons<f32>>>>,
    /// Pushed frames (per channel) that found the ring full.
    push_dropped: AtomicU64,
    /// Pulled frames (per channel) filled with silence: nothing was queued.
    pull_silent: AtomicU64,
}

/// Takes a host end without waiting. A second thread using the same
/// direction at the same moment is the host's bug and is told so.
fn claim<'a, T>(m: &'a Mutex<T>, what: &str) -> Result<MutexGuard<'a, T>> {
    match m.try_lock() {
        Ok(g) => Ok(g),
        Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
        Err(TryLockError::WouldBlock) => Err(Error::invalid_state(format!(
            "another thread is {what} audio on this engine right now"
        ))),
    }
}

/// Puts a ring of `format` (checked) in `slot` unless one is there.
fn set_port<E>(
    slot: &Mutex<Option<Port<E>>>,
    format: Option<AudioFormat>,
    host: impl FnOnce(Arc<HeapRb<f32>>) -> E,
) -> Result<()> {
    if let Some(f) = format {
        check_format(f)?;
    }
    let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
    if slot.as_ref().map(|p| p.format) != format {
        *slot = format.map(|f| Port::new(f, host));
    }
    Ok(())
}

impl ExternalAudio {
    /// Sets (or with `None` removes) the microphone's host format. A new
    /// format gets a new ring; the same format keeps the ring, so a host
    /// pushing meanwhile is not disturbed. Engine threads only.
    pub fn set_capture_format(&self, format: Option<AudioFormat>) -> Result<()> {
        set_port(&self.capture, format, CachingProd::new)
    }

    /// Like [`Self::set_capture_format`] for the speaker.
    pub fn set_playout_format(&self, format: Option<AudioFormat>) -> Result<()> {
        set_port(&self.playout, format, CachingCons::new)
    }

    /// Queues interleaved 16-bit samples from the host's microphone
    /// (a whole number of frames). Frames that find the ring full (half a
    /// second queued: nothing is consuming, or the engine stalled) are
    /// dropped and counted. Real-time safe.
    pub fn push(&self, pcm: &[i16]) -> Result<()> {
        let mut slot = claim(&self.capture, "pushing")?;
        let Some(port) = slot.as_mut() else {
            return Err(Error::invalid_state(
                "the engine's audio input is not External: configure AudioInputConfig::External",
            ));
        };
        let ch = port.format.channels as usize;
        if !pcm.len().is_multiple_of(ch) {
            return Err(Error::invalid_argument(format!(
                "{} samples are not a whole number of {ch}-channel frames",
                pcm.len()
            )));
        }
        let mut buf = [0f32; STEP];
        let mut dropped = 0;
        for chunk in pcm.chunks(STEP) {
            for (f, &s) in buf.iter_mut().zip(chunk) {
                *f = s as f32 / 32_768.0;
            }
            let pushed = port.host.push_slice(&buf[..chunk.len()]);
            dropped += chunk.len() - pushed;
        }
        if dropped > 0 {
            self.push_dropped.fetch_add((dropped / ch) as u64, Relaxed);
        }
        Ok(())
    }

    /// Fills `out` with the next interleaved 16-bit samples for the host's
    /// speaker (a whole number of frames); what is not there yet is
    /// silence, counted. Returns how many frames were real audio.
    /// Real-time safe.
    pub fn pull(&self, out: &mut [i16]) -> Result<usize> {
        let mut slot = claim(&self.playout, "pulling")?;
        let Some(port) = slot.as_mut() else {
            return Err(Error::invalid_state(
                "the engine's audio output is not External: configure AudioOutputConfig::External",
            ));
        };
        let ch = port.format.channels as usize;
        if !out.len().is_multiple_of(ch) {
            return Err(Error::invalid_argument(format!(
                "{} samples are not a whole number of {ch}-channel frames",
                out.len()
            )));
        }
        // Whole frames only, so channels never slip.
        let available = port.host.occupied_len() / ch * ch;
        let mut buf = [0f32; STEP];
        let mut filled = 0;
        for chunk in out.chunks_mut(STEP) {
            let want = chunk.len().min(available - filled);
            let got = port.host.pop_slice(&mut buf[..want]);
            for (o, &f) in chunk.iter_mut().zip(&buf[..got]) {
                *o = (f.clamp(-1.0, 1.0) * 32_767.0).round() as i16;
            }
            chunk[got..].fill(0);
            filled += got;
        }
        let silent = (out.len() - filled) / ch;
        if silent > 0 {
            self.pull_silent.fetch_add(silent as u64, Relaxed);
        }
        Ok(filled / ch)
    }

    /// Frames the host pushed into a full ring.
    pub fn push_dropped_frames(&self) -> u64 {
        self.push_dropped.load(Relaxed)
    }

    /// Frames the host pulled that were silence.
    pub fn pull_silent_frames(&self) -> u64 {
        self.pull_silent.load(Relaxed)
    }
}

/// The engine's end of the host's microphone.
pub struct ExternalAudioInput {
    audio: Arc<ExternalAudio>,
}

impl ExternalAudioInput {
    pub fn new(audio: Arc<ExternalAudio>) -> Self {
        ExternalAudioInput { audio }
    }
}

impl AudioInput for ExternalAudioInput {
    fn start(&mut self, _on_error: ErrorCallback) -> Result<(AudioFormat, HeapCons<f32>)> {
        let slot = self.audio.capture.lock().unwrap_or_else(|p| p.into_inner());
        let Some(port) = slot.as_ref() else {
            return Err(Error::invalid_state(
                "no external audio input is configured",
            ));
        };
        if port.rb.read_is_held() {
            return Err(Error::invalid_state(
                "the external audio input is already in use",
            ));
        }
        let mut ring = CachingCons::new(port.rb.clone());
        // What was pushed while nothing listened is stale by now.
        ring.clear();
        Ok((port.format, ring))
    }

    /// The stage drops its end of the ring when it stops; pushes go on
    /// being accepted (and dropped once the ring is full).
    fn stop(&mut self) {}
}

/// The engine's end of the host's speaker.
pub struct ExternalAudioOutput {
    audio: Arc<ExternalAudio>,
}

impl ExternalAudioOutput {
    pub fn new(audio: Arc<ExternalAudio>) -> Self {
        ExternalAudioOutput { audio }
    }
}

impl AudioOutput for ExternalAudioOutput {
    fn start(&mut self, _on_error: ErrorCallback) -> Result<(AudioFormat, HeapProd<f32>)> {
        let slot = self.audio.playout.lock().unwrap_or_else(|p| p.into_inner());
        let Some(port) = slot.as_ref() else {
            return Err(Error::invalid_state(
                "no external audio output is configured",
            ));
        };
        if port.rb.write_is_held() {
            return Err(Error::invalid_state(
                "the external audio output is already in use",
            ));
        }
        Ok((port.format, CachingProd::new(port.rb.clone())))
    }

    fn stop(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stereo_16k() -> AudioFormat {
        AudioFormat {
            sample_rate: 16_000,
            channels: 2,
        }
    }

    #[test]
    fn pushed_samples_reach_the_engine_as_floats_and_overflow_is_counted() {
        let audio = Arc::new(ExternalAudio::default());
        assert!(audio.push(&[0; 4]).is_err(), "not configured");
        audio.set_capture_format(Some(stereo_16k())).unwrap();
        assert!(audio.push(&[0; 3]).is_err(), "half a stereo frame");
        audio.push(&[1, 2]).unwrap();
        let mut input = ExternalAudioInput::new(audio.clone());
        let (format, mut ring) = input.start(Arc::new(|_| {})).unwrap();
        assert_eq!(format, stereo_16k());
        assert_eq!(
            ring.occupied_len(),
            0,
            "pushed before start: dropped as stale"
        );
        assert!(
            ExternalAudioInput::new(audio.clone())
                .start(Arc::new(|_| {}))
                .is_err(),
            "one consumer at a time"
        );
        audio.push(&[16_384, -32_768, 0, 32_767]).unwrap();
        let mut got = [0f32; 4];
        assert_eq!(ring.pop_slice(&mut got), 4);
        assert_eq!(got, [0.5, -1.0, 0.0, 32_767.0 / 32_768.0]);
        // Half a second of stereo fits; a second more is dropped.
        let second = vec![0i16; 32_000];
        audio.push(&second).unwrap();
        audio.push(&second).unwrap();
        assert!(audio.push_dropped_frames() >= 16_000 - 1000);
        // Stopped and restarted: the same ring, emptied.
        drop(ring);
        input.stop();
        let (_, ring) = input.start(Arc::new(|_| {})).unwrap();
        assert_eq!(ring.occupied_len(), 0);
    }

    #[test]
    fn pulls_fill_with_what_is_queued_then_silence() {
        let audio = Arc::new(ExternalAudio::default());
        let mut out = [7i16; 6];
        assert!(audio.pull(&mut out).is_err(), "not configured");
        audio.set_playout_format(Some(stereo_16k())).unwrap();
        let mut output = ExternalAudioOutput::new(audio.clone());
        let (_, mut ring) = output.start(Arc::new(|_| {})).unwrap();
        ring.push_slice(&[0.5, -0.5, 2.0, -2.0]);
        assert_eq!(audio.pull(&mut out).unwrap(), 2);
        assert_eq!(out, [16_384, -16_384, 32_767, -32_767, 0, 0]);
        assert_eq!(audio.pull_silent_frames(), 1);
        assert!(audio.pull(&mut out[..5]).is_err(), "half a frame");
        // An odd sample queued (a bug upstream) is never split across calls.
        ring.push_slice(&[0.25]);
        assert_eq!(audio.pull(&mut out[..2]).unwrap(), 0);
        // A long pull crosses the stack buffer's steps.
        ring.push_slice(&[0.25; 999]);
        let mut long = vec![1i16; 2000];
        assert_eq!(audio.pull(&mut long).unwrap(), 500);
        assert!(long[..1000].iter().all(|&s| s == 8192));
        assert!(long[1000..].iter().all(|&s| s == 0));
    }

    #[test]
    fn a_second_thread_on_the_same_direction_is_refused_not_waited_for() {
        let audio = ExternalAudio::default();
        audio.set_capture_format(Some(stereo_16k())).unwrap();
        let held = audio.capture.lock().unwrap();
        let e = audio.push(&[0, 0]).unwrap_err();
        assert!(e.to_string().contains("another thread"), "{e}");
        drop(held);
        audio.push(&[0, 0]).unwrap();
        assert!(audio
            .set_capture_format(Some(AudioFormat {
                sample_rate: 96_000,
                channels: 1
            }))
            .is_err());
        assert!(audio
            .set_playout_format(Some(AudioFormat {
                sample_rate: 48_000,
                channels: 3
            }))
            .is_err());
    }
}
