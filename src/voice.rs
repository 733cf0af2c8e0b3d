//! Voice processing on the capture path: acoustic echo cancellation, noise
//! suppression, automatic gain control and a high-pass filter — WebRTC's
//! audio processing (AEC3, NS, AGC2) as ported to Rust by `sonora`, built
//! in with the `voice-processing` feature.
//!
//! Works on 48 kHz mono. The playout thread hands every frame it plays to
//! [`FarEnd::played`]; the capture thread's [`VoiceProcessor`] analyses
//! those frames (the echo canceller's reference; it estimates the delay to
//! the microphone itself) before it cleans each microphone frame. Owns no
//! thread and reads no clock.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::error::{Error, ErrorKind, Result};

/// Samples in one 20 ms playout frame at 48 kHz, the unit the far end is
/// handed over in.
pub const FAR_END_FRAME: usize = 960;
/// Samples in the 10 ms block the processing runs on.
#[cfg(feature = "voice-processing")]
const BLOCK: usize = 480;
/// Far-end frames held for the capture thread (1 s); beyond, new ones are
/// dropped until it catches up.
const FAR_END_QUEUE: usize = 50;

/// Which stages run on the microphone's audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoiceStages {
    /// Removes the far end's voice, played by the speaker and heard again
    /// by the microphone.
    pub echo_cancellation: bool,
    /// Attenuates stationary background noise (fans, hum, hiss).
    pub noise_suppression: bool,
    /// Brings speech to a steady level.
    pub gain_control: bool,
    /// Removes rumble below ~80 Hz.
    pub high_pass: bool,
}

impl VoiceStages {
    /// Every stage.
    pub const ALL: VoiceStages = VoiceStages {
        echo_cancellation: true,
        noise_suppression: true,
        gain_control: true,
        high_pass: true,
    };
    /// What [`VoiceProcessing::Auto`] runs for a system microphone: all but
    /// gain control. (With a loudspeaker that feeds the microphone at full
    /// level, gain control lifted the residual echo by ~17 dB: 24 dB of
    /// echo removed instead of 41, `tests/echo_path.rs`.)
    pub const DEFAULT: VoiceStages = VoiceStages {
        echo_cancellation: true,
        noise_suppression: true,
        gain_control: false,
        high_pass: true,
    };
    /// No stage: the microphone's audio goes to the encoder untouched.
    pub const NONE: VoiceStages = VoiceStages {
        echo_cancellation: false,
        noise_suppression: false,
        gain_control: false,
        high_pass: false,
    };

    /// Whether any stage runs.
    pub fn any(&self) -> bool {
        *self != VoiceStages::NONE
    }
}

/// The engine's voice processing setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VoiceProcessing {
    /// [`VoiceStages::DEFAULT`] (echo cancellation, noise suppression,
    /// high-pass) when the engine owns a system microphone
    /// ([`crate::AudioInputConfig::Default`] or `Device`); none for
    /// synthetic, file and host-fed input (a phone host's platform voice
    /// processing — iOS VoiceProcessingIO, Android `VOICE_COMMUNICATION` —
    /// already cleans what it pushes). In builds without the
    /// `voice-processing` feature: none.
    #[default]
    Auto,
    /// Exactly these stages (an engine built without the
    /// `voice-processing` feature refuses any).
    Stages(VoiceStages),
}

impl VoiceProcessing {
    /// No processing.
    pub const OFF: VoiceProcessing = VoiceProcessing::Stages(VoiceStages::NONE);

    /// The stages to run for a microphone that is (`system_input`) or is
    /// not a system device.
    pub fn resolve(self, system_input: bool) -> VoiceStages {
        match self {
            VoiceProcessing::Auto if system_input && cfg!(feature = "voice-processing") => {
                VoiceStages::DEFAULT
            }
            VoiceProcessing::Auto => VoiceStages::NONE,
            VoiceProcessing::Stages(s) => s,
        }
    }

    /// Refuses stages this build cannot run.
    pub fn validate(self) -> Result<()> {
        match self {
            VoiceProcessing::Stages(s) if s.any() && !cfg!(feature = "voice-processing") => {
                Err(Error::new(
                    ErrorKind::Unsupported,
                    "voice processing was requested but this build of libmedia has no \
                     `voice-processing` feature",
                ))
            }
            _ => Ok(()),
        }
    }
}

/// The far end's audio as played: the playout thread puts frames in, the
/// capture thread's echo canceller takes them out. Frames are only queued
/// while a canceller is listening. (The engine has one; benches and tools
/// make their own.)
pub struct FarEnd {
    tx: Sender<[f32; FAR_END_FRAME]>,
    rx: Receiver<[f32; FAR_END_FRAME]>,
    listening: AtomicBool,
}

impl FarEnd {
    pub fn new() -> Arc<Self> {
        let (tx, rx) = bounded(FAR_END_QUEUE);
        Arc::new(FarEnd {
            tx,
            rx,
            listening: AtomicBool::new(false),
        })
    }

    /// A 20 ms frame (48 kHz mono) was handed to the speaker. Never blocks.
    pub fn played(&self, frame: &[f32; FAR_END_FRAME]) {
        if self.listening.load(Relaxed) {
            let _ = self.tx.try_send(*frame);
        }
    }
}

/// Figures the processing reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct VoiceStats {
    /// Echo return loss enhancement (how much of the echo the canceller
    /// removes), in dB, once it has an estimate.
    pub echo_return_loss_enhancement_db: Option<f64>,
    /// The echo path's delay from speaker to microphone as the canceller
    /// estimates it, in milliseconds.
    pub echo_delay_ms: Option<i32>,
}

/// Cleans the microphone's 48 kHz mono audio; see the module docs.
pub struct VoiceProcessor {
    #[cfg(feature = "voice-processing")]
    apm: Option<sonora::AudioProcessing>,
    far_end: Option<Arc<FarEnd>>,
    #[cfg(feature = "voice-processing")]
    scratch: [f32; BLOCK],
}

impl VoiceProcessor {
    /// A processor running `stages`. With echo cancellation, `far_end`
    /// must be the playout's: the processor listens to it until dropped.
    pub fn new(stages: VoiceStages, far_end: &Arc<FarEnd>) -> Result<Self> {
        VoiceProcessing::Stages(stages).validate()?;
        let mut p = VoiceProcessor {
            #[cfg(feature = "voice-processing")]
            apm: None,
            far_end: None,
            #[cfg(feature = "voice-processing")]
            scratch: [0.0; BLOCK],
        };
        #[cfg(feature = "voice-processing")]
        if stages.any() {
            use sonora::config::{
                AdaptiveDigital, EchoCanceller, GainController2, HighPassFilter, NoiseSuppression,
            };
            let config = sonora::Config {
                echo_canceller: stages.echo_cancellation.then(EchoCanceller::default),
                noise_suppression: stages.noise_suppression.then(NoiseSuppression::default),
                gain_controller2: stages.gain_control.then(|| GainController2 {
                    adaptive_digital: Some(AdaptiveDigital::default()),
                    ..Default::default()
                }),
                high_pass_filter: stages.high_pass.then(HighPassFilter::default),
                ..Default::default()
            };
            let stream = sonora::StreamConfig::new(48_000, 1);
            p.apm = Some(
                sonora::AudioProcessing::builder()
                    .config(config)
                    .capture_config(stream)
                    .render_config(stream)
                    .build(),
            );
        }
        if stages.echo_cancellation {
            // Whatever was played before this processor existed is stale.
            while far_end.rx.try_recv().is_ok() {}
            far_end.listening.store(true, Relaxed);
            p.far_end = Some(far_end.clone());
        }
        Ok(p)
    }

    /// Cleans one frame of microphone audio in place (a whole number of
    /// 10 ms blocks: 480 samples each), after analysing the far-end audio
    /// played since the last call.
    pub fn process(&mut self, frame: &mut [f32]) {
        #[cfg(feature = "voice-processing")]
        if let Some(apm) = self.apm.as_mut() {
            if let Some(far_end) = &self.far_end {
                for far in far_end.rx.try_iter() {
                    for block in far.chunks_exact(BLOCK) {
                        // The reference is only analysed; its copy is not used.
                        let _ = apm.process_render_f32(&[block], &mut [&mut self.scratch]);
                    }
                }
            }
            for block in frame.chunks_exact_mut(BLOCK) {
                if apm
                    .process_capture_f32(&[block], &mut [&mut self.scratch])
                    .is_ok()
                {
                    block.copy_from_slice(&self.scratch);
                }
            }
        }
        #[cfg(not(feature = "voice-processing"))]
        let _ = frame;
    }

    /// What the echo canceller reports so far.
    pub fn stats(&self) -> VoiceStats {
        #[cfg(feature = "voice-processing")]
        if let Some(apm) = &self.apm {
            let s = apm.statistics();
            return VoiceStats {
                echo_return_loss_enhancement_db: s.echo_return_loss_enhancement,
                echo_delay_ms: s.delay_ms,
            };
        }
        VoiceStats::default()
    }
}

impl Drop for VoiceProcessor {
    fn drop(&mut self) {
        if let Some(far_end) = &self.far_end {
            far_end.listening.store(false, Relaxed);
        }
    }
}

#[cfg(all(test, feature = "voice-processing"))]
mod tests {
    use super::*;
    use crate::analysis::{correlation, level_envelope, rms_dbfs, talker};

    /// The far end's voice played by a speaker and heard by the microphone
    /// `delay` samples later through a small room (two reflections).
    fn echo_of(far: &[f32], delay: usize, gain: f32) -> Vec<f32> {
        (0..far.len())
            .map(|i| {
                let at = |d: usize| if i >= d { far[i - d] } else { 0.0 };
                gain * (at(delay) + 0.4 * at(delay + 96) + 0.15 * at(delay + 410))
            })
            .collect()
    }

    /// Runs `mic` through a processor with `stages`, the far end played in
    /// step (one 20 ms frame at a time, played before it is heard).
    fn run(stages: VoiceStages, far: &[f32], mic: &[f32]) -> (Vec<f32>, VoiceStats) {
        let far_end = FarEnd::new();
        let mut p = VoiceProcessor::new(stages, &far_end).unwrap();
        let mut out = Vec::with_capacity(mic.len());
        for (f, m) in far
            .chunks_exact(FAR_END_FRAME)
            .zip(mic.chunks_exact(FAR_END_FRAME))
        {
            far_end.played(f.try_into().unwrap());
            let mut frame = m.to_vec();
            p.process(&mut frame);
            out.extend_from_slice(&frame);
        }
        (out, p.stats())
    }

    /// The echo canceller's chain: AGC scales echo and speech alike, so it
    /// is left out of the echo measurement.
    const CANCELLER: VoiceStages = VoiceStages {
        gain_control: false,
        ..VoiceStages::ALL
    };

    #[test]
    fn echo_is_cancelled_by_more_than_40_db_after_convergence() {
        let far = talker(12.0, 220.0, 4.0, 1);
        let mic = echo_of(&far, 60 * 48, 0.5);
        let (out, stats) = run(CANCELLER, &far, &mic);
        // After 6 s of far-end speech.
        let start = 6 * 48_000;
        let erle = rms_dbfs(&mic[start..]) - rms_dbfs(&out[start..]);
        eprintln!(
            "echo {:.1} dBFS, residual {:.1} dBFS: ERLE {erle:.1} dB; canceller reports {:?}",
            rms_dbfs(&mic[start..]),
            rms_dbfs(&out[start..]),
            stats
        );
        assert!(erle >= 40.0, "ERLE {erle:.1} dB");
        // The canceller's own estimate of the 60 ms echo path (it reports
        // its alignment, a few 4 ms blocks short of the path).
        let delay = stats.echo_delay_ms.expect("a delay estimate");
        assert!((40..=70).contains(&delay), "estimated delay {delay} ms");
    }

    #[test]
    fn the_near_end_talker_comes_through_double_talk() {
        let far = talker(12.0, 220.0, 4.0, 1);
        let near = talker(12.0, 130.0, 3.1, 2);
        let echo = echo_of(&far, 60 * 48, 0.5);
        // The near end starts talking after 6 s of far end alone.
        let start = 6 * 48_000;
        let mic: Vec<f32> = (0..far.len())
            .map(|i| echo[i] + if i >= start { near[i] } else { 0.0 })
            .collect();
        for (name, stages) in [("canceller", CANCELLER), ("all stages", VoiceStages::ALL)] {
            let (out, _) = run(stages, &far, &mic);
            // Past the first 100 ms of double talk: does the output follow
            // the near end's syllables (not the echo's), at its level?
            let from = start + 4800;
            let near_env = level_envelope(&near[from..], BLOCK);
            // The processing delays the audio by ~15 ms (its filter bank,
            // the canceller's and the suppressor's blocks): compare at the
            // best lag up to 40 ms.
            let out_env = level_envelope(&out[from..], BLOCK);
            let at_best_lag = |reference: &[f64]| {
                (0..=4)
                    .map(|lag| correlation(reference, &out_env[lag..]))
                    .fold(f64::MIN, f64::max)
            };
            let follows_near = at_best_lag(&near_env);
            let follows_echo = at_best_lag(&level_envelope(&echo[from..], BLOCK));
            let level = rms_dbfs(&out[from..]) - rms_dbfs(&near[from..]);
            eprintln!(
                "{name}, double talk: envelope follows the near end {follows_near:.2}, \
                 the echo {follows_echo:.2}; near-end level {level:+.1} dB"
            );
            assert!(follows_near >= 0.8, "{name}: near end {follows_near:.2}");
            assert!(follows_echo <= 0.3, "{name}: echo {follows_echo:.2}");
            // Not ducked; the gain control may lift a quiet talker.
            assert!(
                (-6.0..=15.0).contains(&level),
                "{name}: level {level:+.1} dB"
            );
        }
    }

    #[test]
    fn without_stages_audio_is_untouched_and_far_end_is_not_queued() {
        let far_end = FarEnd::new();
        let mut p = VoiceProcessor::new(VoiceStages::NONE, &far_end).unwrap();
        far_end.played(&[0.5; FAR_END_FRAME]);
        assert!(far_end.rx.is_empty(), "nobody listens: nothing queued");
        let mut frame: Vec<f32> = (0..960).map(|i| (i as f32 / 960.0) - 0.5).collect();
        let before = frame.clone();
        p.process(&mut frame);
        assert_eq!(frame, before);
    }

    #[test]
    fn a_stalled_capture_thread_bounds_the_far_end_queue() {
        let far_end = FarEnd::new();
        let _p = VoiceProcessor::new(VoiceStages::ALL, &far_end).unwrap();
        for _ in 0..10 * FAR_END_QUEUE {
            far_end.played(&[0.1; FAR_END_FRAME]);
        }
        assert_eq!(far_end.rx.len(), FAR_END_QUEUE);
        drop(_p);
        far_end.played(&[0.1; FAR_END_FRAME]);
        assert_eq!(far_end.rx.len(), FAR_END_QUEUE, "no listener after drop");
    }

    #[test]
    fn auto_runs_everything_only_for_system_microphones() {
        assert_eq!(VoiceProcessing::Auto.resolve(true), VoiceStages::DEFAULT);
        assert_eq!(VoiceProcessing::Auto.resolve(false), VoiceStages::NONE);
        assert_eq!(VoiceProcessing::OFF.resolve(true), VoiceStages::NONE);
        let aec_only = VoiceStages {
            echo_cancellation: true,
            ..VoiceStages::NONE
        };
        assert_eq!(VoiceProcessing::Stages(aec_only).resolve(false), aec_only);
    }
}
