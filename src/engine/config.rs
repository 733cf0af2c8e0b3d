//! Engine configuration: which devices (real or fake) and codec settings.

use std::path::PathBuf;

use crate::codec::opus::OpusSettings;
use crate::codec::video::VideoCodecConfig;
use crate::devices::audio::AudioFormat;
use crate::jitter::video::VideoDelay;
use crate::jitter::JitterConfig;
use crate::transport::impairment::Impairment;
use crate::voice::VoiceProcessing;

/// Where microphone audio comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioInputConfig {
    /// The system's default microphone.
    Default,
    /// A microphone by the id enumeration reported.
    Device(String),
    /// A synthetic sine tone.
    Tone {
        freq_hz: f32,
        level_dbfs: f32,
    },
    /// A WAV file, looped.
    WavFile(PathBuf),
    Silence,
    /// 16-bit PCM the host pushes with [`crate::Engine::push_audio`] (a
    /// phone's voice-processing microphone), at `sample_rate` Hz
    /// (8000..=48000) with 1 or 2 interleaved channels.
    External {
        sample_rate: u32,
        channels: u16,
    },
}

impl AudioInputConfig {
    /// Whether this is one of the system's microphones (what
    /// [`VoiceProcessing::Auto`] cleans).
    pub fn is_system(&self) -> bool {
        matches!(
            self,
            AudioInputConfig::Default | AudioInputConfig::Device(_)
        )
    }

    /// The host's format when the input is [`AudioInputConfig::External`].
    pub fn external_format(&self) -> Option<AudioFormat> {
        match *self {
            AudioInputConfig::External {
                sample_rate,
                channels,
            } => Some(AudioFormat {
                sample_rate,
                channels,
            }),
            _ => None,
        }
    }
}

/// Where received audio is played.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioOutputConfig {
    /// The system's default speaker.
    Default,
    /// A speaker by the id enumeration reported.
    Device(String),
    /// A 48 kHz mono WAV file, written in real time.
    WavFile(PathBuf),
    /// Played into nothing, in real time.
    Null,
    /// 16-bit PCM the host pulls with [`crate::Engine::pull_audio`] for its
    /// own speaker, at `sample_rate` Hz (8000..=48000) with 1 or 2
    /// interleaved channels. The host's pulls are the playout clock.
    External { sample_rate: u32, channels: u16 },
}

impl AudioOutputConfig {
    /// The host's format when the output is [`AudioOutputConfig::External`].
    pub fn external_format(&self) -> Option<AudioFormat> {
        match *self {
            AudioOutputConfig::External {
                sample_rate,
                channels,
            } => Some(AudioFormat {
                sample_rate,
                channels,
            }),
            _ => None,
        }
    }
}

/// Where local video comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum VideoInputConfig {
    /// A camera by index (0 is the first).
    Camera(u32),
    /// The moving, self-describing test pattern.
    TestPattern,
    /// A Y4M file, looped.
    Y4mFile(PathBuf),
    /// Frames the host pushes with [`crate::Engine::push_video_frame`]
    /// (a phone's camera, a screen, any custom source). The encoder
    /// follows the pushed size: a new size restarts it with a keyframe.
    External,
}

/// Video capture and encoding settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoConfig {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Start bitrate of the encoder.
    pub bitrate_bps: u32,
    /// Bounds for bitrate changes made while running.
    pub min_bitrate_bps: u32,
    pub max_bitrate_bps: u32,
}

impl Default for VideoConfig {
    fn default() -> Self {
        VideoConfig {
            width: 640,
            height: 360,
            fps: 30,
            bitrate_bps: 800_000,
            min_bitrate_bps: 100_000,
            max_bitrate_bps: 2_500_000,
        }
    }
}

/// Everything an [`crate::Engine`] is created with. `Default` uses the
/// system's devices; [`EngineConfig::fake`] uses synthetic ones.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    pub audio_input: AudioInputConfig,
    pub audio_output: AudioOutputConfig,
    pub video_input: VideoInputConfig,
    pub video: VideoConfig,
    pub audio: OpusSettings,
    /// Who encodes and decodes H.264: the library's openh264 (default) or
    /// a codec the host hands in (a phone's hardware codec).
    pub video_codec: VideoCodecConfig,
    /// Echo cancellation, noise suppression, gain control and high-pass on
    /// the microphone's audio. Default [`VoiceProcessing::Auto`]: all but
    /// gain control for system microphones, none for synthetic, file and
    /// host-fed audio.
    pub voice_processing: VoiceProcessing,
    pub jitter: JitterConfig,
    /// How much delay the receiver may add so that remote video plays
    /// smoothly through NACK repairs and jitter: [`VideoDelay::Balanced`]
    /// by default (up to 400 ms, only as much as the path needs);
    /// [`VideoDelay::Immediate`] shows frames as soon as they are decoded.
    pub video_delay: VideoDelay,
    /// Lip sync (`control::LipSync`): delay a remote's audio while it
    /// plays more than 20 ms ahead of its video (or the video while the
    /// audio is more than 80 ms behind). Off by default: under loss the
    /// video delay reaches hundreds of milliseconds, and following it
    /// makes the whole call that much later and moves the audio's delay
    /// while people talk. How far apart the two play is measured either
    /// way (`Stats::av_sync_offset_us`).
    pub lip_sync: bool,
    /// What the echo test's loopback path does to packets (delay and
    /// jitter at most [`crate::engine::MAX_LOOPBACK_DELAY_US`] each).
    pub loopback: Impairment,
    /// When set, decoded remote video is also written to this Y4M file
    /// (its folder must exist).
    pub record_remote_video: Option<PathBuf>,
    /// When set, what the speaker plays of the remotes (mixed, before any
    /// resampling to the device) is also written to this 48 kHz mono WAV
    /// file, whatever the output (its folder must exist). Each session
    /// starts it anew.
    pub record_remote_audio: Option<PathBuf>,
    /// How often a stats event is emitted; 0 turns them off, else within
    /// [`crate::engine::MIN_STATS_INTERVAL_MS`]..=[`crate::engine::MAX_STATS_INTERVAL_MS`].
    pub stats_interval_ms: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            audio_input: AudioInputConfig::Default,
            audio_output: AudioOutputConfig::Default,
            video_input: VideoInputConfig::Camera(0),
            video: VideoConfig::default(),
            video_codec: VideoCodecConfig::Builtin,
            audio: OpusSettings::default(),
            voice_processing: VoiceProcessing::Auto,
            jitter: JitterConfig::default(),
            video_delay: VideoDelay::Balanced,
            lip_sync: false,
            loopback: Impairment::default(),
            record_remote_video: None,
            record_remote_audio: None,
            stats_interval_ms: 1000,
        }
    }
}

impl EngineConfig {
    /// Synthetic devices: a 440 Hz tone at -20 dBFS, a null speaker and the
    /// test pattern. Runs anywhere, no hardware needed.
    pub fn fake() -> Self {
        EngineConfig {
            audio_input: AudioInputConfig::Tone {
                freq_hz: 440.0,
                level_dbfs: -20.0,
            },
            audio_output: AudioOutputConfig::Null,
            video_input: VideoInputConfig::TestPattern,
            ..Default::default()
        }
    }
}
