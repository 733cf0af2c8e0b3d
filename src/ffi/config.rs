//! `media_engine_config`: its enums, its defaults (`media_engine_config_init`)
//! and its translation to and from [`EngineConfig`].

use super::*;

/// `media_engine_config.audio_input` values.
#[repr(C)]
pub enum media_audio_input {
    /// The system's default microphone.
    MEDIA_AUDIO_INPUT_DEFAULT = 0,
    /// The microphone whose id is `audio_input_device`.
    MEDIA_AUDIO_INPUT_DEVICE = 1,
    /// A sine tone (`tone_hz`, `tone_level_dbfs`).
    MEDIA_AUDIO_INPUT_TONE = 2,
    /// The WAV file `audio_input_file`, looped.
    MEDIA_AUDIO_INPUT_WAV_FILE = 3,
    MEDIA_AUDIO_INPUT_SILENCE = 4,
    /// 16-bit PCM the host pushes with `media_engine_push_audio`, at
    /// `audio_input_sample_rate` with `audio_input_channels`.
    MEDIA_AUDIO_INPUT_EXTERNAL = 5,
}

/// `media_engine_config.audio_output` values.
#[repr(C)]
pub enum media_audio_output {
    /// The system's default speaker.
    MEDIA_AUDIO_OUTPUT_DEFAULT = 0,
    /// The speaker whose id is `audio_output_device`.
    MEDIA_AUDIO_OUTPUT_DEVICE = 1,
    /// Written to the WAV file `audio_output_file` (48 kHz mono).
    MEDIA_AUDIO_OUTPUT_WAV_FILE = 2,
    /// Played into nothing, in real time.
    MEDIA_AUDIO_OUTPUT_NULL = 3,
    /// 16-bit PCM the host pulls with `media_engine_pull_audio`, at
    /// `audio_output_sample_rate` with `audio_output_channels`.
    MEDIA_AUDIO_OUTPUT_EXTERNAL = 4,
}

/// `media_engine_config.video_input` values.
#[repr(C)]
pub enum media_video_input {
    /// The camera number `camera_index`.
    MEDIA_VIDEO_INPUT_CAMERA = 0,
    /// A moving test pattern that carries its frame number.
    MEDIA_VIDEO_INPUT_TEST_PATTERN = 1,
    /// The Y4M file `video_input_file`, looped.
    MEDIA_VIDEO_INPUT_Y4M_FILE = 2,
    /// Frames the host pushes with `media_engine_push_video_frame` (a
    /// phone's camera, a screen, any custom source).
    MEDIA_VIDEO_INPUT_EXTERNAL = 3,
}

/// `media_engine_config.voice_processing`: which stages clean the
/// microphone's audio. OR the stage flags together (0: none), or use
/// `MEDIA_VOICE_PROCESSING_AUTO` alone.
#[repr(C)]
pub enum media_voice_processing {
    /// Removes the far end's voice played by the speaker and heard again
    /// by the microphone (acoustic echo cancellation).
    MEDIA_VOICE_ECHO_CANCELLATION = 1,
    /// Attenuates stationary background noise.
    MEDIA_VOICE_NOISE_SUPPRESSION = 2,
    /// Brings speech to a steady level.
    MEDIA_VOICE_GAIN_CONTROL = 4,
    /// Removes rumble below ~80 Hz.
    MEDIA_VOICE_HIGH_PASS = 8,
    /// Every stage.
    MEDIA_VOICE_ALL = 15,
    /// The default: echo cancellation, noise suppression and high-pass
    /// (not gain control) when the engine owns a system microphone
    /// (`MEDIA_AUDIO_INPUT_DEFAULT` / `_DEVICE`), none for tone, file and
    /// host-pushed audio (a phone's platform voice processing cleans that).
    /// Without the library's `voice-processing` feature: none, and any
    /// stage flag makes `media_engine_new` fail with `MEDIA_ERR_UNSUPPORTED`.
    MEDIA_VOICE_PROCESSING_AUTO = 0x100,
}

/// `media_engine_config.video_delay`: how much delay the receiver may add
/// to show remote video without freezes (frames are scheduled at their
/// capture time plus a delay that covers the network's unevenness and
/// NACK repairs).
#[repr(C)]
pub enum media_video_delay {
    /// Up to 400 ms: covers 95 % of frames' lateness in full and the
    /// rest to within a 100 ms hitch (no freeze). The default.
    MEDIA_VIDEO_DELAY_BALANCED = 0,
    /// Frames are shown as soon as they are decoded.
    MEDIA_VIDEO_DELAY_IMMEDIATE = 1,
    /// Up to 100 ms, covering 95 %.
    MEDIA_VIDEO_DELAY_LOW_LATENCY = 2,
    /// Up to 1 s, covering every frame of the last 10 s.
    MEDIA_VIDEO_DELAY_SMOOTH = 3,
}

/// Engine settings. Initialise with `media_engine_config_default` (system
/// devices) or `media_engine_config_fake` (synthetic devices), which set
/// `struct_size`, then change fields. Enum-typed settings are `uint32_t`
/// holding the enum's values. Strings are copied by `media_engine_new`;
/// NULL means unset. Fields added in later versions go at the end.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct media_engine_config {
    /// `sizeof(media_engine_config)` as the host was compiled.
    pub struct_size: u32,
    /// A `media_audio_input` value.
    pub audio_input: u32,
    pub audio_input_device: *const c_char,
    pub audio_input_file: *const c_char,
    pub tone_hz: f32,
    pub tone_level_dbfs: f32,
    /// A `media_audio_output` value.
    pub audio_output: u32,
    pub audio_output_device: *const c_char,
    pub audio_output_file: *const c_char,
    /// A `media_video_input` value.
    pub video_input: u32,
    pub camera_index: u32,
    pub video_input_file: *const c_char,
    pub video_width: u32,
    pub video_height: u32,
    pub video_fps: u32,
    pub video_bitrate_bps: u32,
    pub video_min_bitrate_bps: u32,
    pub video_max_bitrate_bps: u32,
    /// Opus bitrate on a path with room (default 48 000); in calls at most
    /// 32 000 while the path is estimated below 1 Mbit/s.
    pub audio_bitrate_bps: u32,
    pub audio_fec: bool,
    /// Expected packet loss, 0..=100, steering Opus FEC.
    pub audio_expected_loss_pct: u32,
    pub audio_dtx: bool,
    /// Echo test path: probability 0..=1 that an audio packet is lost.
    pub loopback_audio_loss: f32,
    /// Echo test path: probability 0..=1 that a video frame is lost.
    pub loopback_video_loss: f32,
    pub loopback_delay_ms: u32,
    pub loopback_jitter_ms: u32,
    pub loopback_seed: u64,
    /// Period of `MEDIA_EVENT_STATS` events; 0 turns them off.
    pub stats_interval_ms: u32,
    /// When set, decoded remote video is also written to this Y4M file.
    pub record_remote_video_file: *const c_char,
    /// `MEDIA_AUDIO_INPUT_EXTERNAL`: the pushed PCM's rate (8000..=48000)
    /// and channels (1 or 2). Added after the first layout with a
    /// `struct_size`: a host whose struct ends before them gets 48 kHz mono.
    pub audio_input_sample_rate: u32,
    pub audio_input_channels: u32,
    /// `MEDIA_AUDIO_OUTPUT_EXTERNAL`: the pulled PCM's rate and channels.
    pub audio_output_sample_rate: u32,
    pub audio_output_channels: u32,
    /// `media_voice_processing` flags, `MEDIA_VOICE_PROCESSING_AUTO` by
    /// default (also for hosts whose struct ends before this field).
    pub voice_processing: u32,
    /// A `media_video_delay` value; `MEDIA_VIDEO_DELAY_BALANCED` (0) by
    /// default. (This field was `reserved`, which had to be 0.)
    pub video_delay: u32,
    /// When set, the audio the speaker plays is also written to this WAV
    /// file (48 kHz mono). With `MEDIA_AUDIO_OUTPUT_WAV_FILE` the output
    /// file already is that recording.
    pub record_remote_audio_file: *const c_char,
    /// The host's H.264 codec (a phone's MediaCodec or VideoToolbox), or
    /// NULL for the library's own (openh264). Copied by `media_engine_new`;
    /// see `media_video_codec`. A library built without its own codec
    /// needs one for video: without it starting video fails with
    /// `MEDIA_ERR_UNSUPPORTED` and remote video is not shown.
    pub video_codec: *const media_video_codec,
    /// Lip sync: 1 delays a remote's audio while it plays more than 20 ms
    /// ahead of its video (or the video while the audio is more than
    /// 80 ms behind); 0 (the default, also for hosts whose struct ends
    /// before this field) only measures how far apart they play
    /// (`media_stats.av_sync_offset_us`). Other values are
    /// `MEDIA_ERR_INVALID_ARGUMENT`.
    pub lip_sync: u32,
    /// Must be 0.
    pub reserved: u32,
}

// SAFETY: repr(C) plain data led by `struct_size`; a C host's bytes are
// valid (pointers are only read as possibly-NULL C strings, bools are 0/1).
unsafe impl Grown for media_engine_config {
    const NAME: &'static str = "media_engine_config";
    const V1_SIZE: usize = std::mem::offset_of!(media_engine_config, audio_input_sample_rate);
}

pub(crate) fn config_to_c(c: &EngineConfig, out: &mut media_engine_config) {
    let (tone_hz, tone_level_dbfs) = match c.audio_input {
        AudioInputConfig::Tone {
            freq_hz,
            level_dbfs,
        } => (freq_hz, level_dbfs),
        _ => (440.0, -20.0),
    };
    // Unset: 48 kHz mono, what a host most often runs at.
    let external = |format: Option<crate::devices::audio::AudioFormat>| {
        format.map_or((48_000, 1), |f| (f.sample_rate, f.channels as u32))
    };
    let ext_in = external(c.audio_input.external_format());
    let ext_out = external(c.audio_output.external_format());
    *out = media_engine_config {
        struct_size: std::mem::size_of::<media_engine_config>() as u32,
        audio_input: match c.audio_input {
            AudioInputConfig::Tone { .. } => media_audio_input::MEDIA_AUDIO_INPUT_TONE as u32,
            AudioInputConfig::External { .. } => {
                media_audio_input::MEDIA_AUDIO_INPUT_EXTERNAL as u32
            }
            _ => media_audio_input::MEDIA_AUDIO_INPUT_DEFAULT as u32,
        },
        audio_input_device: std::ptr::null(),
        audio_input_file: std::ptr::null(),
        tone_hz,
        tone_level_dbfs,
        audio_output: match c.audio_output {
            AudioOutputConfig::Null => media_audio_output::MEDIA_AUDIO_OUTPUT_NULL as u32,
            AudioOutputConfig::External { .. } => {
                media_audio_output::MEDIA_AUDIO_OUTPUT_EXTERNAL as u32
            }
            _ => media_audio_output::MEDIA_AUDIO_OUTPUT_DEFAULT as u32,
        },
        audio_output_device: std::ptr::null(),
        audio_output_file: std::ptr::null(),
        video_input: match c.video_input {
            VideoInputConfig::TestPattern => {
                media_video_input::MEDIA_VIDEO_INPUT_TEST_PATTERN as u32
            }
            VideoInputConfig::External => media_video_input::MEDIA_VIDEO_INPUT_EXTERNAL as u32,
            _ => media_video_input::MEDIA_VIDEO_INPUT_CAMERA as u32,
        },
        camera_index: 0,
        video_input_file: std::ptr::null(),
        video_width: c.video.width,
        video_height: c.video.height,
        video_fps: c.video.fps,
        video_bitrate_bps: c.video.bitrate_bps,
        video_min_bitrate_bps: c.video.min_bitrate_bps,
        video_max_bitrate_bps: c.video.max_bitrate_bps,
        audio_bitrate_bps: c.audio.bitrate_bps,
        audio_fec: c.audio.fec,
        audio_expected_loss_pct: c.audio.expected_loss_pct as u32,
        audio_dtx: c.audio.dtx,
        loopback_audio_loss: 0.0,
        loopback_video_loss: 0.0,
        loopback_delay_ms: 0,
        loopback_jitter_ms: 0,
        loopback_seed: 1,
        record_remote_video_file: std::ptr::null(),
        stats_interval_ms: c.stats_interval_ms,
        audio_input_sample_rate: ext_in.0,
        audio_input_channels: ext_in.1,
        audio_output_sample_rate: ext_out.0,
        audio_output_channels: ext_out.1,
        voice_processing: voice_to_c(c.voice_processing),
        video_delay: match c.video_delay {
            VideoDelay::Balanced => media_video_delay::MEDIA_VIDEO_DELAY_BALANCED,
            VideoDelay::Immediate => media_video_delay::MEDIA_VIDEO_DELAY_IMMEDIATE,
            VideoDelay::LowLatency => media_video_delay::MEDIA_VIDEO_DELAY_LOW_LATENCY,
            VideoDelay::Smooth => media_video_delay::MEDIA_VIDEO_DELAY_SMOOTH,
        } as u32,
        record_remote_audio_file: std::ptr::null(),
        video_codec: std::ptr::null(),
        lip_sync: c.lip_sync as u32,
        reserved: 0,
    };
}

fn voice_to_c(v: VoiceProcessing) -> u32 {
    use media_voice_processing::*;
    match v {
        VoiceProcessing::Auto => MEDIA_VOICE_PROCESSING_AUTO as u32,
        VoiceProcessing::Stages(s) => [
            (s.echo_cancellation, MEDIA_VOICE_ECHO_CANCELLATION),
            (s.noise_suppression, MEDIA_VOICE_NOISE_SUPPRESSION),
            (s.gain_control, MEDIA_VOICE_GAIN_CONTROL),
            (s.high_pass, MEDIA_VOICE_HIGH_PASS),
        ]
        .into_iter()
        .filter(|&(on, _)| on)
        .fold(0, |bits, (_, flag)| bits | flag as u32),
    }
}

fn voice_from_c(bits: u32) -> Result<VoiceProcessing, media_result> {
    use media_voice_processing::*;
    if bits == MEDIA_VOICE_PROCESSING_AUTO as u32 {
        return Ok(VoiceProcessing::Auto);
    }
    if bits & !(MEDIA_VOICE_ALL as u32) != 0 {
        set_last_error(&format!(
            "voice_processing {bits:#x}: stage flags (MEDIA_VOICE_ALL = 0xf) or MEDIA_VOICE_PROCESSING_AUTO alone"
        ));
        return Err(MEDIA_ERR_INVALID_ARGUMENT);
    }
    let on = |flag: media_voice_processing| bits & flag as u32 != 0;
    Ok(VoiceProcessing::Stages(VoiceStages {
        echo_cancellation: on(MEDIA_VOICE_ECHO_CANCELLATION),
        noise_suppression: on(MEDIA_VOICE_NOISE_SUPPRESSION),
        gain_control: on(MEDIA_VOICE_GAIN_CONTROL),
        high_pass: on(MEDIA_VOICE_HIGH_PASS),
    }))
}

/// `config` filled from `c`.
pub(crate) fn config_c(c: &EngineConfig) -> media_engine_config {
    // SAFETY: every field is then written by `config_to_c`; all-zero is a
    // valid value of this plain-data struct in the meantime.
    let mut out: media_engine_config = unsafe { std::mem::zeroed() };
    config_to_c(c, &mut out);
    out
}

/// Fills the first `struct_size` bytes of `config` with defaults that use
/// the system's microphone, speaker and first camera, 640x360 at 30 fps,
/// 800 kbit/s, and sets `config->struct_size`. Hosts call it through
/// `media_engine_config_default(config)`, which passes `sizeof *config`.
/// `MEDIA_ERR_INVALID_ARGUMENT` for a size below the first version's.
#[no_mangle]
pub extern "C" fn media_engine_config_init(
    config: *mut media_engine_config,
    struct_size: u32,
) -> media_result {
    // SAFETY: the host promises `struct_size` writable bytes at `config`.
    guard(|| unsafe { sized::init(config, struct_size, config_c(&EngineConfig::default())) })
}

/// Like `media_engine_config_init` but with synthetic devices: a 440 Hz
/// tone at -20 dBFS, a null speaker and the test pattern. Hosts call it
/// through `media_engine_config_fake(config)`.
#[no_mangle]
pub extern "C" fn media_engine_config_init_fake(
    config: *mut media_engine_config,
    struct_size: u32,
) -> media_result {
    // SAFETY: as for `media_engine_config_init`.
    guard(|| unsafe { sized::init(config, struct_size, config_c(&EngineConfig::fake())) })
}

/// A host's config as an [`EngineConfig`], checked.
///
/// # Safety
/// `c` is a host config whose string fields are NULL or NUL-terminated.
pub(crate) unsafe fn config_from_c(c: &media_engine_config) -> Result<EngineConfig, media_result> {
    let channels = |n: u32| {
        u16::try_from(n)
            .ok()
            .filter(|n| (1..=2).contains(n))
            .ok_or_else(|| {
                set_last_error(&format!("{n} audio channels: 1 or 2"));
                MEDIA_ERR_INVALID_ARGUMENT
            })
    };
    use media_audio_input::*;
    use media_audio_output::*;
    use media_video_input::*;
    let audio_input = match c.audio_input {
        x if x == MEDIA_AUDIO_INPUT_DEFAULT as u32 => AudioInputConfig::Default,
        x if x == MEDIA_AUDIO_INPUT_DEVICE as u32 => {
            // SAFETY: a string field of the host's config: NULL or NUL-terminated (this function's contract).
            AudioInputConfig::Device(unsafe { req_str(c.audio_input_device) }?)
        }
        x if x == MEDIA_AUDIO_INPUT_TONE as u32 => AudioInputConfig::Tone {
            freq_hz: c.tone_hz,
            level_dbfs: c.tone_level_dbfs,
        },
        x if x == MEDIA_AUDIO_INPUT_WAV_FILE as u32 => {
            // SAFETY: a string field of the host's config: NULL or NUL-terminated (this function's contract).
            AudioInputConfig::WavFile(unsafe { req_str(c.audio_input_file) }?.into())
        }
        x if x == MEDIA_AUDIO_INPUT_SILENCE as u32 => AudioInputConfig::Silence,
        x if x == MEDIA_AUDIO_INPUT_EXTERNAL as u32 => AudioInputConfig::External {
            sample_rate: c.audio_input_sample_rate,
            channels: channels(c.audio_input_channels)?,
        },
        _ => return Err(MEDIA_ERR_INVALID_ARGUMENT),
    };
    if let AudioInputConfig::Tone {
        freq_hz,
        level_dbfs,
    } = audio_input
    {
        if !(freq_hz.is_finite()
            && (1.0..24_000.0).contains(&freq_hz)
            && level_dbfs.is_finite()
            && level_dbfs <= 0.0)
        {
            return Err(MEDIA_ERR_INVALID_ARGUMENT);
        }
    }
    let audio_output = match c.audio_output {
        x if x == MEDIA_AUDIO_OUTPUT_DEFAULT as u32 => AudioOutputConfig::Default,
        x if x == MEDIA_AUDIO_OUTPUT_DEVICE as u32 => {
            // SAFETY: a string field of the host's config: NULL or NUL-terminated (this function's contract).
            AudioOutputConfig::Device(unsafe { req_str(c.audio_output_device) }?)
        }
        x if x == MEDIA_AUDIO_OUTPUT_WAV_FILE as u32 => {
            // SAFETY: a string field of the host's config: NULL or NUL-terminated (this function's contract).
            AudioOutputConfig::WavFile(unsafe { req_str(c.audio_output_file) }?.into())
        }
        x if x == MEDIA_AUDIO_OUTPUT_NULL as u32 => AudioOutputConfig::Null,
        x if x == MEDIA_AUDIO_OUTPUT_EXTERNAL as u32 => AudioOutputConfig::External {
            sample_rate: c.audio_output_sample_rate,
            channels: channels(c.audio_output_channels)?,
        },
        _ => return Err(MEDIA_ERR_INVALID_ARGUMENT),
    };
    let video_input = match c.video_input {
        x if x == MEDIA_VIDEO_INPUT_CAMERA as u32 => VideoInputConfig::Camera(c.camera_index),
        x if x == MEDIA_VIDEO_INPUT_TEST_PATTERN as u32 => VideoInputConfig::TestPattern,
        x if x == MEDIA_VIDEO_INPUT_EXTERNAL as u32 => VideoInputConfig::External,
        x if x == MEDIA_VIDEO_INPUT_Y4M_FILE as u32 => {
            // SAFETY: a string field of the host's config: NULL or NUL-terminated (this function's contract).
            VideoInputConfig::Y4mFile(unsafe { req_str(c.video_input_file) }?.into())
        }
        _ => return Err(MEDIA_ERR_INVALID_ARGUMENT),
    };
    use media_video_delay::*;
    let video_delay = match c.video_delay {
        x if x == MEDIA_VIDEO_DELAY_BALANCED as u32 => VideoDelay::Balanced,
        x if x == MEDIA_VIDEO_DELAY_IMMEDIATE as u32 => VideoDelay::Immediate,
        x if x == MEDIA_VIDEO_DELAY_LOW_LATENCY as u32 => VideoDelay::LowLatency,
        x if x == MEDIA_VIDEO_DELAY_SMOOTH as u32 => VideoDelay::Smooth,
        x => {
            set_last_error(&format!(
                "video_delay {x}: a media_video_delay value (0..=3)"
            ));
            return Err(MEDIA_ERR_INVALID_ARGUMENT);
        }
    };
    let lip_sync = match (c.lip_sync, c.reserved) {
        (0, 0) => false,
        (1, 0) => true,
        (x, 0) => {
            set_last_error(&format!("lip_sync {x}: 0 or 1"));
            return Err(MEDIA_ERR_INVALID_ARGUMENT);
        }
        (_, r) => {
            set_last_error(&format!("reserved {r}: must be 0"));
            return Err(MEDIA_ERR_INVALID_ARGUMENT);
        }
    };
    let loss_ok = |p: f32| p.is_finite() && (0.0..=1.0).contains(&p);
    if !loss_ok(c.loopback_audio_loss)
        || !loss_ok(c.loopback_video_loss)
        || c.audio_expected_loss_pct > 100
    {
        return Err(MEDIA_ERR_INVALID_ARGUMENT);
    }
    Ok(EngineConfig {
        audio_input,
        audio_output,
        video_input,
        video: VideoConfig {
            width: c.video_width,
            height: c.video_height,
            fps: c.video_fps,
            bitrate_bps: c.video_bitrate_bps,
            min_bitrate_bps: c.video_min_bitrate_bps,
            max_bitrate_bps: c.video_max_bitrate_bps,
        },
        audio: OpusSettings {
            bitrate_bps: c.audio_bitrate_bps,
            fec: c.audio_fec,
            expected_loss_pct: c.audio_expected_loss_pct as u8,
            dtx: c.audio_dtx,
        },
        loopback: Impairment {
            audio_loss: c.loopback_audio_loss as f64,
            video_loss: c.loopback_video_loss as f64,
            delay_us: c.loopback_delay_ms as u64 * 1000,
            jitter_us: c.loopback_jitter_ms as u64 * 1000,
            seed: c.loopback_seed,
        },
        // SAFETY: a string field of the host's config: NULL or NUL-terminated (this function's contract).
        record_remote_video: unsafe { opt_str(c.record_remote_video_file) }?.map(PathBuf::from),
        // SAFETY: as above.
        record_remote_audio: unsafe { opt_str(c.record_remote_audio_file) }?.map(PathBuf::from),
        video_delay,
        lip_sync,
        stats_interval_ms: c.stats_interval_ms,
        voice_processing: voice_from_c(c.voice_processing)?,
        video_codec: if c.video_codec.is_null() {
            VideoCodecConfig::Builtin
        } else {
            // SAFETY: a host's `media_video_codec` (this field's contract).
            VideoCodecConfig::Host(unsafe { video_codec::host_codec(c.video_codec) }?)
        },
        ..EngineConfig::default()
    })
}
