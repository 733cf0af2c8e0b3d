//! The C ABI (`include/media.h`, generated from this file by cbindgen).
//!
//! Conventions: opaque handles created by `media_*_new` and released by
//! `media_*_free` (which accept NULL); every function checks its pointers,
//! runs inside a panic boundary and returns a `media_result`
//! (`media_result_str` names it); outputs are written only on success;
//! config structs are initialised by `*_default()`. Strings in are UTF-8
//! and copied. Callbacks take the `userdata` pointer given with them.
//!
//! Threads: the event callback runs on the engine's "media-events" thread,
//! the frame callback on its "media-render" thread, one call at a time
//! each. Both may call back into the engine, except `media_engine_free`.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use crate::codec::opus::OpusSettings;
use crate::devices::DeviceInfo;
use crate::engine::events::{Event, FrameSource, Stream, StreamState};
use crate::engine::stats::Stats;
use crate::transport::impairment::Impairment;
use crate::{
    AudioInputConfig, AudioOutputConfig, Engine, EngineConfig, ErrorKind, VideoConfig,
    VideoInputConfig,
};

/// Result of every fallible call. `MEDIA_OK` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_result {
    MEDIA_OK = 0,
    /// A required pointer argument was NULL.
    MEDIA_ERR_NULL_ARGUMENT = 1,
    /// An argument was out of range, not UTF-8, or an unknown enum value.
    MEDIA_ERR_INVALID_ARGUMENT = 2,
    /// The call does not fit the engine's current state.
    MEDIA_ERR_INVALID_STATE = 3,
    /// The device id, index or file does not exist.
    MEDIA_ERR_NOT_FOUND = 4,
    /// No device of that kind exists on this system (e.g. no camera).
    MEDIA_ERR_NO_DEVICE = 5,
    /// The device exists but could not be opened, or vanished. Retry later.
    MEDIA_ERR_DEVICE_UNAVAILABLE = 6,
    /// The system refused access to the microphone or camera.
    MEDIA_ERR_PERMISSION_DENIED = 7,
    /// An encoder or decoder failed.
    MEDIA_ERR_CODEC = 8,
    /// Reading or writing a file failed.
    MEDIA_ERR_IO = 9,
    /// Valid, but not supported by this build or device.
    MEDIA_ERR_UNSUPPORTED = 10,
    /// An output buffer was too small.
    MEDIA_ERR_BUFFER_TOO_SMALL = 11,
    /// A bug inside libmedia was caught at the API boundary.
    MEDIA_ERR_PANIC = 12,
    /// Any other internal failure.
    MEDIA_ERR_INTERNAL = 13,
    /// The callee is in another call (a `MEDIA_CALL_ENDED` event's `error`).
    MEDIA_ERR_BUSY = 14,
    /// The callee is not connected to the server.
    MEDIA_ERR_PEER_OFFLINE = 15,
    /// Taken: the channel is full, the uid is in use, the user signed in
    /// elsewhere, or the server is full (see the event's `code`).
    MEDIA_ERR_OCCUPIED = 16,
    /// The token is expired, forged, for another scope, or the app is unknown.
    MEDIA_ERR_BAD_TOKEN = 17,
    /// The server could not be reached (after the reconnection attempts).
    MEDIA_ERR_SERVER_UNREACHABLE = 18,
    /// The media connection to a peer could not be made or was lost for
    /// good (a call then ends with `MEDIA_CALL_END_MEDIA_FAILED`).
    MEDIA_ERR_NETWORK = 19,
}

/// The result code for a server error code (`media_event.code`).
fn server_code_result(code: &str) -> media_result {
    match code {
        "token_expired" | "token_invalid" | "token_wrong_scope" | "unknown_app" => {
            MEDIA_ERR_BAD_TOKEN
        }
        "busy" => MEDIA_ERR_BUSY,
        "offline" | "unknown_user" => MEDIA_ERR_PEER_OFFLINE,
        "channel_full" | "uid_in_use" | "replaced" | "server_full" | "too_many_channels" => {
            MEDIA_ERR_OCCUPIED
        }
        "unreachable" => MEDIA_ERR_SERVER_UNREACHABLE,
        "invalid_state" | "not_in_channel" | "unknown_call" | "not_registered" => {
            MEDIA_ERR_INVALID_STATE
        }
        "bad_message" => MEDIA_ERR_INVALID_ARGUMENT,
        _ => MEDIA_ERR_INTERNAL,
    }
}

use media_result::*;

mod sized;
use sized::Grown;

impl From<ErrorKind> for media_result {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => MEDIA_ERR_INVALID_ARGUMENT,
            ErrorKind::InvalidState => MEDIA_ERR_INVALID_STATE,
            ErrorKind::NotFound => MEDIA_ERR_NOT_FOUND,
            ErrorKind::NoDevice => MEDIA_ERR_NO_DEVICE,
            ErrorKind::DeviceUnavailable => MEDIA_ERR_DEVICE_UNAVAILABLE,
            ErrorKind::PermissionDenied => MEDIA_ERR_PERMISSION_DENIED,
            ErrorKind::Codec => MEDIA_ERR_CODEC,
            ErrorKind::Io => MEDIA_ERR_IO,
            ErrorKind::Unsupported => MEDIA_ERR_UNSUPPORTED,
            ErrorKind::Network => MEDIA_ERR_NETWORK,
            _ => MEDIA_ERR_INTERNAL,
        }
    }
}

impl From<crate::Error> for media_result {
    fn from(e: crate::Error) -> Self {
        e.kind().into()
    }
}

/// A static, NUL-terminated description of `result` (a `media_result`
/// value; unknown values are described as such). Never NULL.
#[no_mangle]
pub extern "C" fn media_result_str(result: u32) -> *const c_char {
    const ALL: [media_result; 20] = [
        MEDIA_OK,
        MEDIA_ERR_NULL_ARGUMENT,
        MEDIA_ERR_INVALID_ARGUMENT,
        MEDIA_ERR_INVALID_STATE,
        MEDIA_ERR_NOT_FOUND,
        MEDIA_ERR_NO_DEVICE,
        MEDIA_ERR_DEVICE_UNAVAILABLE,
        MEDIA_ERR_PERMISSION_DENIED,
        MEDIA_ERR_CODEC,
        MEDIA_ERR_IO,
        MEDIA_ERR_UNSUPPORTED,
        MEDIA_ERR_BUFFER_TOO_SMALL,
        MEDIA_ERR_PANIC,
        MEDIA_ERR_INTERNAL,
        MEDIA_ERR_BUSY,
        MEDIA_ERR_PEER_OFFLINE,
        MEDIA_ERR_OCCUPIED,
        MEDIA_ERR_BAD_TOKEN,
        MEDIA_ERR_SERVER_UNREACHABLE,
        MEDIA_ERR_NETWORK,
    ];
    let Some(&known) = ALL.iter().find(|&&r| r as u32 == result) else {
        return c"unknown media_result".as_ptr();
    };
    let s: &'static CStr = match known {
        MEDIA_OK => c"ok",
        MEDIA_ERR_NULL_ARGUMENT => c"a required pointer argument was NULL",
        MEDIA_ERR_INVALID_ARGUMENT => c"invalid argument",
        MEDIA_ERR_INVALID_STATE => c"not allowed in the current state",
        MEDIA_ERR_NOT_FOUND => c"no such device, index or file",
        MEDIA_ERR_NO_DEVICE => c"no device of this kind on this system",
        MEDIA_ERR_DEVICE_UNAVAILABLE => c"device unavailable or disconnected",
        MEDIA_ERR_PERMISSION_DENIED => c"permission to use the device was denied",
        MEDIA_ERR_CODEC => c"codec failure",
        MEDIA_ERR_IO => c"file read or write failed",
        MEDIA_ERR_UNSUPPORTED => c"not supported",
        MEDIA_ERR_BUFFER_TOO_SMALL => c"buffer too small",
        MEDIA_ERR_PANIC => c"internal error (caught panic)",
        MEDIA_ERR_BUSY => c"the callee is busy in another call",
        MEDIA_ERR_PEER_OFFLINE => c"the callee is offline",
        MEDIA_ERR_OCCUPIED => {
            c"occupied: channel full, uid in use, signed in elsewhere or server full"
        }
        MEDIA_ERR_BAD_TOKEN => c"token expired, invalid or for another scope",
        MEDIA_ERR_SERVER_UNREACHABLE => c"the server could not be reached",
        MEDIA_ERR_NETWORK => c"the media connection to the peer failed",
        MEDIA_ERR_INTERNAL => c"internal error",
    };
    s.as_ptr()
}

/// The library version, e.g. "0.1.0". Static, never NULL.
#[no_mangle]
pub extern "C" fn media_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The version of the C ABI this header describes. It grows when functions,
/// enum values or struct fields are added (added at the end of structs
/// that carry a `struct_size`), so a host built against an older header
/// keeps working with a newer library. Version 2 gave every config and
/// stats struct its `struct_size`; hosts built against version 1 headers
/// must be rebuilt.
pub const MEDIA_ABI_VERSION: u32 = 2;

/// The oldest header version this library serves.
const OLDEST_ABI_VERSION: u32 = 2;

/// The C ABI version the library implements (`MEDIA_ABI_VERSION` of the
/// header it was built with).
#[no_mangle]
pub extern "C" fn media_abi_version() -> u32 {
    MEDIA_ABI_VERSION
}

/// Whether this library serves a host compiled against a header of ABI
/// version `host_abi_version` (pass `MEDIA_ABI_VERSION`): `MEDIA_OK` when
/// the library is as new or newer, `MEDIA_ERR_UNSUPPORTED` when the host
/// expects functions this older library lacks (or was built against a
/// header older than this library serves). Call it once at start-up.
#[no_mangle]
pub extern "C" fn media_check_abi(host_abi_version: u32) -> media_result {
    guard(|| {
        if host_abi_version == 0 {
            return MEDIA_ERR_INVALID_ARGUMENT;
        }
        if host_abi_version < OLDEST_ABI_VERSION {
            set_last_error(&format!(
                "the host was built for ABI {host_abi_version}, whose structs had no struct_size: rebuild it against this library's media.h (ABI {MEDIA_ABI_VERSION})"
            ));
            return MEDIA_ERR_UNSUPPORTED;
        }
        if host_abi_version > MEDIA_ABI_VERSION {
            set_last_error(&format!(
                "the host was built for ABI {host_abi_version}, this library implements {MEDIA_ABI_VERSION}: update libmedia"
            ));
            return MEDIA_ERR_UNSUPPORTED;
        }
        MEDIA_OK
    })
}

/// `media_set_log_callback` levels, most severe first.
#[repr(C)]
pub enum media_log_level {
    MEDIA_LOG_ERROR = 1,
    MEDIA_LOG_WARN = 2,
    MEDIA_LOG_INFO = 3,
    MEDIA_LOG_DEBUG = 4,
    MEDIA_LOG_TRACE = 5,
}

/// Receives one log record: a `media_log_level`, the module it comes from
/// ("media::transport::webrtc") and its text, both NUL-terminated and
/// valid only during the call. Called on whichever library thread logged,
/// possibly several at once.
pub type media_log_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: u32,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// The host's userdata for a callback that may run on several threads at
/// once; the host promises that is fine.
struct SharedUserData(*mut c_void);
unsafe impl Send for SharedUserData {}
unsafe impl Sync for SharedUserData {}

/// Sends the library's log records up to `max_level` (a `media_log_level`:
/// `MEDIA_LOG_INFO` gives errors, warnings and information) to `callback`
/// (forward them to logcat, os_log or your own log); NULL stops them.
/// Process-wide, for every engine. `MEDIA_ERR_INVALID_STATE` when the
/// process already has a Rust `tracing` subscriber of its own.
#[no_mangle]
pub extern "C" fn media_set_log_callback(
    max_level: u32,
    callback: media_log_callback,
    userdata: *mut c_void,
) -> media_result {
    guard(|| {
        use crate::log::LogLevel;
        let max = match max_level {
            1 => LogLevel::Error,
            2 => LogLevel::Warn,
            3 => LogLevel::Info,
            4 => LogLevel::Debug,
            5 => LogLevel::Trace,
            _ => return MEDIA_ERR_INVALID_ARGUMENT,
        };
        let handler = callback.map(|cb| {
            let ud = SharedUserData(userdata);
            Box::new(move |level: LogLevel, target: &str, text: &str| {
                let c = |s: &str| std::ffi::CString::new(s.replace('\0', " ")).unwrap_or_default();
                let (target, text) = (c(target), c(text));
                let ud = &ud;
                // SAFETY: the host's callback with its own userdata and two
                // strings valid for the call; a panic cannot unwind out of
                // an extern "C" fn.
                unsafe { cb(ud.0, level as u32, target.as_ptr(), text.as_ptr()) };
            }) as crate::log::LogHandler
        });
        done(crate::log::set_log_handler(max, handler))
    })
}

thread_local! {
    /// What went wrong in the last call this thread made (empty after a
    /// success); read with `media_last_error_message`.
    static LAST_ERROR: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Records `message` as the detail of the current call's failure.
fn set_last_error(message: &str) {
    LAST_ERROR.with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            e.clear();
            e.push_str(message);
        }
    });
}

/// Turns a library error into its result code, keeping its message for
/// `media_last_error_message`.
fn fail(e: crate::Error) -> media_result {
    set_last_error(e.message());
    e.into()
}

/// Runs `f`, turning a panic into `MEDIA_ERR_PANIC`, and keeps the detail
/// of a failure for `media_last_error_message` (the code's description
/// when `f` left none).
fn guard(f: impl FnOnce() -> media_result) -> media_result {
    LAST_ERROR.with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            e.clear();
        }
    });
    let result = catch_unwind(AssertUnwindSafe(f)).unwrap_or(MEDIA_ERR_PANIC);
    if result != MEDIA_OK {
        let empty = LAST_ERROR.with(|e| e.try_borrow().map(|e| e.is_empty()).unwrap_or(false));
        if empty {
            // SAFETY: media_result_str returns a static NUL-terminated string.
            let s = unsafe { CStr::from_ptr(media_result_str(result as u32)) };
            set_last_error(&s.to_string_lossy());
        }
    }
    result
}

/// Writes the detail of the last failed call made on this thread (for
/// example "listen address 10.1.2.3:80 is not an address of this
/// machine"), NUL-terminated, into `buf` (`len` bytes; longer messages are
/// cut at a character boundary). An empty string when the thread's last
/// call succeeded. Returns the message's full length in bytes, without the
/// NUL (also when `buf` is NULL or `len` is 0: nothing is written then),
/// so a host can size its buffer.
#[no_mangle]
pub extern "C" fn media_last_error_message(buf: *mut c_char, len: usize) -> usize {
    catch_unwind(AssertUnwindSafe(|| {
        LAST_ERROR.with(|e| {
            let Ok(e) = e.try_borrow() else { return 0 };
            if buf.is_null() || len == 0 {
                return e.len();
            }
            let mut n = e.len().min(len - 1);
            while !e.is_char_boundary(n) {
                n -= 1;
            }
            // SAFETY: the host gave `len` writable bytes at `buf`; n < len.
            let out = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
            out[..n].copy_from_slice(&e.as_bytes()[..n]);
            out[n] = 0;
            e.len()
        })
    }))
    .unwrap_or(0)
}

/// A failure `try_ffi!` can return: a library error (its message is
/// kept for `media_last_error_message`) or a bare result code.
trait Failure {
    fn into_result(self) -> media_result;
}

impl Failure for crate::Error {
    fn into_result(self) -> media_result {
        fail(self)
    }
}

impl Failure for media_result {
    fn into_result(self) -> media_result {
        self
    }
}

macro_rules! try_ffi {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Failure::into_result(e),
        }
    };
}

/// An engine. Create with `media_engine_new`, release with `media_engine_free`.
pub struct media_engine {
    _private: [u8; 0],
}

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

/// `media_video_push_frame.format` values.
#[repr(C)]
pub enum media_pixel_format {
    /// Three planes: Y, U, V (chroma at half width and height).
    MEDIA_PIXEL_I420 = 0,
    /// Two planes: Y, then U and V interleaved, U first (iOS
    /// `420YpCbCr8BiPlanar`; Android `YUV_420_888` with pixel stride 2).
    MEDIA_PIXEL_NV12 = 1,
    /// Two planes: Y, then V and U interleaved, V first (Android NV21).
    MEDIA_PIXEL_NV21 = 2,
}

/// A frame the host captured, for `media_engine_push_video_frame`. Set
/// `struct_size` to `sizeof(media_video_push_frame)`: fields added in later
/// versions go at the end, and the library reads only the ones a host's
/// `struct_size` covers.
#[repr(C)]
pub struct media_video_push_frame {
    /// `sizeof(media_video_push_frame)` as the host was compiled.
    pub struct_size: u32,
    /// A `media_pixel_format`.
    pub format: u32,
    /// Size of the stored pixels, before rotation; both even.
    pub width: u32,
    pub height: u32,
    /// Y; U (I420) or interleaved chroma (NV12 / NV21); V (I420 only,
    /// else NULL). Read only during the call.
    pub planes: [*const u8; 3],
    /// Bytes from one row to the next in each plane.
    pub strides: [u32; 3],
    /// Clockwise rotation that makes the picture upright: 0, 90, 180, 270.
    pub rotation: u32,
    /// Capture time in microseconds on any monotonic clock of the host's
    /// (only the spacing between frames counts); 0: now.
    pub timestamp_us: u64,
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
}

// SAFETY: repr(C) plain data led by `struct_size`; a C host's bytes are
// valid (pointers are only read as possibly-NULL C strings, bools are 0/1).
unsafe impl Grown for media_engine_config {
    const NAME: &'static str = "media_engine_config";
    const V1_SIZE: usize = std::mem::offset_of!(media_engine_config, audio_input_sample_rate);
}

fn config_to_c(c: &EngineConfig, out: &mut media_engine_config) {
    let (tone_hz, tone_level_dbfs) = match c.audio_input {
        AudioInputConfig::Tone {
            freq_hz,
            level_dbfs,
        } => (freq_hz, level_dbfs),
        _ => (440.0, -20.0),
    };
    let external = |format: Option<(u32, u16)>| format.map_or((48_000, 1), |(r, c)| (r, c as u32));
    let ext_in = external(match c.audio_input {
        AudioInputConfig::External {
            sample_rate,
            channels,
        } => Some((sample_rate, channels)),
        _ => None,
    });
    let ext_out = external(match c.audio_output {
        AudioOutputConfig::External {
            sample_rate,
            channels,
        } => Some((sample_rate, channels)),
        _ => None,
    });
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
    };
}

/// `config` filled from `c`.
fn config_c(c: &EngineConfig) -> media_engine_config {
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

/// Reads an optional C string. Err on invalid UTF-8.
///
/// # Safety
/// `p` is NULL or a valid NUL-terminated string.
unsafe fn opt_str(p: *const c_char) -> Result<Option<String>, media_result> {
    if p.is_null() {
        return Ok(None);
    }
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map(|s| Some(s.to_owned()))
        .map_err(|_| MEDIA_ERR_INVALID_ARGUMENT)
}

/// A required C string.
unsafe fn req_str(p: *const c_char) -> Result<String, media_result> {
    unsafe { opt_str(p) }?.ok_or(MEDIA_ERR_NULL_ARGUMENT)
}

unsafe fn config_from_c(c: &media_engine_config) -> Result<EngineConfig, media_result> {
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
            AudioInputConfig::Device(unsafe { req_str(c.audio_input_device) }?)
        }
        x if x == MEDIA_AUDIO_INPUT_TONE as u32 => AudioInputConfig::Tone {
            freq_hz: c.tone_hz,
            level_dbfs: c.tone_level_dbfs,
        },
        x if x == MEDIA_AUDIO_INPUT_WAV_FILE as u32 => {
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
            AudioOutputConfig::Device(unsafe { req_str(c.audio_output_device) }?)
        }
        x if x == MEDIA_AUDIO_OUTPUT_WAV_FILE as u32 => {
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
            VideoInputConfig::Y4mFile(unsafe { req_str(c.video_input_file) }?.into())
        }
        _ => return Err(MEDIA_ERR_INVALID_ARGUMENT),
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
        record_remote_video: unsafe { opt_str(c.record_remote_video_file) }?.map(PathBuf::from),
        stats_interval_ms: c.stats_interval_ms,
        ..EngineConfig::default()
    })
}

/// Creates an engine from `config` (NULL: `media_engine_config_default`).
/// On success writes the handle to `*out_engine`. No device opens yet.
#[no_mangle]
pub extern "C" fn media_engine_new(
    config: *const media_engine_config,
    out_engine: *mut *mut media_engine,
) -> media_result {
    guard(|| {
        if out_engine.is_null() {
            return MEDIA_ERR_NULL_ARGUMENT;
        }
        let config = if config.is_null() {
            EngineConfig::default()
        } else {
            // SAFETY: a host struct of `struct_size` bytes; what an older
            // host's lacks comes from the defaults.
            let c = match unsafe { sized::read(config, config_c(&EngineConfig::default())) } {
                Ok(c) => c,
                Err(r) => return r,
            };
            match unsafe { config_from_c(&c) } {
                Ok(c) => c,
                Err(r) => return r,
            }
        };
        let engine = try_ffi!(Engine::new(config));
        unsafe { *out_engine = Box::into_raw(Box::new(engine)).cast() };
        MEDIA_OK
    })
}

/// Stops everything the engine runs, joins its threads and frees it. NULL
/// is ignored. Must not be called from inside an engine callback.
#[no_mangle]
pub extern "C" fn media_engine_free(engine: *mut media_engine) {
    let _ = guard(|| {
        if !engine.is_null() {
            drop(unsafe { Box::from_raw(engine.cast::<Engine>()) });
        }
        MEDIA_OK
    });
}

fn with_engine(
    engine: *const media_engine,
    f: impl FnOnce(&Engine) -> media_result,
) -> media_result {
    guard(|| match unsafe { engine.cast::<Engine>().as_ref() } {
        Some(e) => f(e),
        None => MEDIA_ERR_NULL_ARGUMENT,
    })
}

/// `media_event.type` values.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_event_type {
    /// `stream` changed to `state`.
    MEDIA_EVENT_STATE_CHANGED = 0,
    /// A failure while running: `error` and `message`.
    MEDIA_EVENT_ERROR = 1,
    /// `width` x `height`.
    MEDIA_EVENT_FIRST_LOCAL_VIDEO_FRAME = 2,
    /// `width` x `height`.
    MEDIA_EVENT_FIRST_REMOTE_VIDEO_FRAME = 3,
    MEDIA_EVENT_FIRST_REMOTE_AUDIO_FRAME = 4,
    /// `stats` holds a snapshot.
    MEDIA_EVENT_STATS = 5,
    /// The network peer's connection changed to `connection`.
    MEDIA_EVENT_CONNECTION = 6,
    /// The server connection changed to `server_state`; on
    /// `MEDIA_SERVER_FAILED`, `code` and `message` say why.
    MEDIA_EVENT_SERVER = 7,
    /// Call progress `call` for `call_id` (`user_id`, `nickname`, `video`
    /// on incoming calls; `end_reason` and `code` when ended).
    MEDIA_EVENT_CALL = 8,
    /// Channel membership `channel_event` in `channel` (`uid`, `user_id`,
    /// `dropped`).
    MEDIA_EVENT_CHANNEL = 9,
    /// The token expires at `expires_at` (Unix seconds): renew it.
    MEDIA_EVENT_TOKEN_WILL_EXPIRE = 10,
    /// The server refused a request: `code`, `message`, maybe `channel`.
    MEDIA_EVENT_SERVER_ERROR = 11,
    /// Every 2 s in a call: `tx_quality` and `rx_quality`, 0 unknown,
    /// 1 excellent, 2 good, 3 poor, 4 bad, 5 very bad, 6 down.
    MEDIA_EVENT_NETWORK_QUALITY = 12,
}

/// The state in a `MEDIA_EVENT_SERVER`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_server_state {
    MEDIA_SERVER_CONNECTING = 0,
    /// Registered: calls can be placed and received.
    MEDIA_SERVER_CONNECTED = 1,
    /// The connection broke; trying again.
    MEDIA_SERVER_RECONNECTING = 2,
    /// Gave up; `code` is e.g. "token_expired", "token_invalid",
    /// "token_wrong_scope", "unknown_app", "replaced", "unreachable".
    MEDIA_SERVER_FAILED = 3,
    /// Closed on request.
    MEDIA_SERVER_DISCONNECTED = 4,
}

/// The progress in a `MEDIA_EVENT_CALL`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_call_event {
    /// Someone calls: `media_engine_accept` or `media_engine_reject`.
    MEDIA_CALL_INCOMING = 0,
    /// The callee's app is ringing.
    MEDIA_CALL_RINGING = 1,
    /// The callee accepted; media is connecting.
    MEDIA_CALL_ACCEPTED = 2,
    /// Over: see `end_reason`.
    MEDIA_CALL_ENDED = 3,
    /// The peer muted or unmuted: `audio_muted`, `video_muted`.
    MEDIA_CALL_REMOTE_MUTE = 4,
}

/// Why a call ended.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_call_end_reason {
    MEDIA_CALL_END_NONE = 0,
    /// The callee is not online.
    MEDIA_CALL_END_OFFLINE = 1,
    /// The callee is in another call.
    MEDIA_CALL_END_BUSY = 2,
    MEDIA_CALL_END_REJECTED = 3,
    /// Nobody answered in time.
    MEDIA_CALL_END_TIMEOUT = 4,
    /// The caller gave up while it rang.
    MEDIA_CALL_END_CANCELLED = 5,
    MEDIA_CALL_END_HANGUP = 6,
    /// The other side's connection to the server was lost.
    MEDIA_CALL_END_PEER_DROPPED = 7,
    /// Our connection to the server was lost.
    MEDIA_CALL_END_CONNECTION_LOST = 8,
    /// The server refused something about the call: see `code`.
    MEDIA_CALL_END_ERROR = 9,
    /// The media connection failed: it never connected (within 20 s of
    /// the call's start), or one that was up stayed unreachable (15 s
    /// after it broke). Both sides see it; `error` is `MEDIA_ERR_NETWORK`.
    MEDIA_CALL_END_MEDIA_FAILED = 10,
}

/// The change in a `MEDIA_EVENT_CHANNEL`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_channel_event {
    /// We joined as `uid`.
    MEDIA_CHANNEL_JOINED = 0,
    /// Member `uid` (`user_id`) joined, or was already there when we joined.
    MEDIA_CHANNEL_USER_JOINED = 1,
    /// Member `uid` left (`dropped` false) or was lost (`dropped` true).
    MEDIA_CHANNEL_USER_OFFLINE = 2,
    /// We left.
    MEDIA_CHANNEL_LEFT = 3,
    /// Member `uid` muted or unmuted (`audio_muted`, `video_muted`).
    MEDIA_CHANNEL_REMOTE_MUTE = 4,
}

/// The state in a `MEDIA_EVENT_CONNECTION`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_connection_state {
    MEDIA_CONNECTION_CONNECTING = 0,
    MEDIA_CONNECTION_CONNECTED = 1,
    /// Lost after being connected; the engine keeps trying.
    MEDIA_CONNECTION_DISCONNECTED = 2,
    /// Could not connect, or gave up.
    MEDIA_CONNECTION_FAILED = 3,
}

/// Which stream a `MEDIA_EVENT_STATE_CHANGED` concerns.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_stream {
    MEDIA_STREAM_NONE = 0,
    MEDIA_STREAM_LOCAL_AUDIO = 1,
    MEDIA_STREAM_LOCAL_VIDEO = 2,
    MEDIA_STREAM_ECHO_TEST = 3,
    /// A call with a network peer.
    MEDIA_STREAM_CALL = 4,
    /// The media of a channel.
    MEDIA_STREAM_CHANNEL = 5,
}

/// The state in a `MEDIA_EVENT_STATE_CHANGED`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_stream_state {
    MEDIA_STREAM_STOPPED = 0,
    MEDIA_STREAM_STARTED = 1,
    /// Stopped by a failure; a `MEDIA_EVENT_ERROR` came first.
    MEDIA_STREAM_FAILED = 2,
}

/// Engine statistics. Counters are totals since the engine was created;
/// bitrates cover the last stats interval; latencies are in microseconds.
/// Set `struct_size` before `media_engine_get_stats`; fields added in later
/// versions go at the end.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct media_stats {
    /// `sizeof(media_stats)` as the host was compiled.
    pub struct_size: u32,
    pub audio_frames_captured: u64,
    pub audio_frames_encoded: u64,
    pub audio_packets_received: u64,
    pub audio_packets_lost: u64,
    pub audio_frames_decoded: u64,
    pub audio_fec_recovered: u64,
    pub audio_concealed: u64,
    pub audio_playout_underruns: u64,
    pub audio_send_bitrate_bps: u32,
    pub audio_recv_bitrate_bps: u32,
    pub audio_jitter_us: u64,
    pub video_frames_captured: u64,
    pub video_frames_encoded: u64,
    pub video_frames_decoded: u64,
    pub video_frames_rendered: u64,
    /// Frames dropped anywhere between capture and the frame callback.
    pub video_frames_dropped: u64,
    pub video_frames_lost: u64,
    pub video_keyframes_sent: u64,
    pub video_keyframe_requests: u64,
    pub video_decode_errors: u64,
    pub video_send_bitrate_bps: u32,
    pub video_recv_bitrate_bps: u32,
    pub video_encode_latency_p50_us: u64,
    pub video_transport_latency_p50_us: u64,
    pub video_decode_latency_p50_us: u64,
    /// Capture to delivery of the decoded frame to the frame callback.
    pub video_latency_p50_us: u64,
    pub video_latency_p95_us: u64,
    /// Host-fed audio: pushed frames (per channel) that found the ring
    /// full; pulled frames filled with silence. Added after the first
    /// layout with a `struct_size`.
    pub audio_push_dropped_frames: u64,
    pub audio_pull_silent_frames: u64,
}

// SAFETY: repr(C) integers led by `struct_size`.
unsafe impl Grown for media_stats {
    const NAME: &'static str = "media_stats";
    const V1_SIZE: usize = std::mem::offset_of!(media_stats, audio_push_dropped_frames);
}

fn stats_to_c(s: &Stats) -> media_stats {
    media_stats {
        struct_size: std::mem::size_of::<media_stats>() as u32,
        audio_frames_captured: s.audio_frames_captured,
        audio_frames_encoded: s.audio_frames_encoded,
        audio_packets_received: s.audio_packets_received,
        audio_packets_lost: s.audio_packets_lost,
        audio_frames_decoded: s.audio_frames_decoded,
        audio_fec_recovered: s.audio_fec_recovered,
        audio_concealed: s.audio_concealed,
        audio_playout_underruns: s.audio_playout_underruns,
        audio_send_bitrate_bps: s.audio_send_bitrate_bps,
        audio_recv_bitrate_bps: s.audio_recv_bitrate_bps,
        audio_jitter_us: s.audio_jitter_us,
        video_frames_captured: s.video_frames_captured,
        video_frames_encoded: s.video_frames_encoded,
        video_frames_decoded: s.video_frames_decoded,
        video_frames_rendered: s.video_frames_rendered,
        video_frames_dropped: s.video_frames_dropped_send
            + s.video_encoder_skipped
            + s.video_frames_dropped_recv
            + s.video_frames_discarded_waiting_keyframe
            + s.video_decode_errors
            + s.video_frames_dropped_render,
        video_frames_lost: s.video_frames_lost,
        video_keyframes_sent: s.video_keyframes_sent,
        video_keyframe_requests: s.video_keyframe_requests,
        video_decode_errors: s.video_decode_errors,
        video_send_bitrate_bps: s.video_send_bitrate_bps,
        video_recv_bitrate_bps: s.video_recv_bitrate_bps,
        video_encode_latency_p50_us: s.video_encode_latency.p50_us,
        video_transport_latency_p50_us: s.video_transport_latency.p50_us,
        video_decode_latency_p50_us: s.video_decode_latency.p50_us,
        video_latency_p50_us: s.video_end_to_end_latency.p50_us,
        video_latency_p95_us: s.video_end_to_end_latency.p95_us,
        audio_push_dropped_frames: s.audio_push_dropped_frames,
        audio_pull_silent_frames: s.audio_pull_silent_frames,
    }
}

/// One event. Pointers inside are valid only during the callback.
#[repr(C)]
pub struct media_event {
    pub r#type: media_event_type,
    pub stream: media_stream,
    pub state: media_stream_state,
    /// For `MEDIA_EVENT_ERROR`; for a failed server connection, a call that
    /// ended in failure (busy, offline, refused) and `MEDIA_EVENT_SERVER_ERROR`
    /// the matching code (`MEDIA_ERR_BAD_TOKEN`, `MEDIA_ERR_BUSY`, ...);
    /// `MEDIA_OK` otherwise.
    pub error: media_result,
    /// For `MEDIA_EVENT_ERROR`: a NUL-terminated UTF-8 message; else NULL.
    pub message: *const c_char,
    pub width: u32,
    pub height: u32,
    /// For `MEDIA_EVENT_CONNECTION`.
    pub connection: media_connection_state,
    /// For `MEDIA_EVENT_STATS`; NULL otherwise.
    pub stats: *const media_stats,
    /// For `MEDIA_EVENT_SERVER`.
    pub server_state: media_server_state,
    /// For `MEDIA_EVENT_CALL`.
    pub call: media_call_event,
    /// For `MEDIA_CALL_ENDED`.
    pub end_reason: media_call_end_reason,
    /// For `MEDIA_EVENT_CHANNEL`.
    pub channel_event: media_channel_event,
    /// Strings below are NUL-terminated UTF-8 valid during the callback, or NULL.
    pub call_id: *const c_char,
    pub user_id: *const c_char,
    pub nickname: *const c_char,
    pub channel: *const c_char,
    /// A server error code ("busy", "token_expired", ...).
    pub code: *const c_char,
    /// The channel member an event is about; for first remote frames,
    /// connection and network quality events the remote's uid (0 in a 1v1
    /// call).
    pub uid: u32,
    /// Incoming call with video.
    pub video: bool,
    /// The member was lost rather than leaving.
    pub dropped: bool,
    /// For `MEDIA_EVENT_TOKEN_WILL_EXPIRE`: Unix seconds.
    pub expires_at: u64,
    /// For `MEDIA_EVENT_NETWORK_QUALITY`.
    pub tx_quality: u32,
    pub rx_quality: u32,
    /// For `MEDIA_CALL_REMOTE_MUTE`.
    pub audio_muted: bool,
    pub video_muted: bool,
}

/// Keeps the C strings of one event alive during its callback.
#[derive(Default)]
struct EventStrings(Vec<std::ffi::CString>);

impl EventStrings {
    fn add(&mut self, s: &str) -> *const c_char {
        let c = std::ffi::CString::new(s.replace('\0', " ")).unwrap_or_default();
        let p = c.as_ptr();
        self.0.push(c);
        p
    }
}

/// Receives events on the engine's "media-events" thread.
pub type media_event_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const media_event)>;

/// Whose picture a `media_video_frame` is.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_frame_source {
    /// The local camera preview.
    MEDIA_FRAME_LOCAL = 0,
    /// Decoded video from the peer (or the echo test).
    MEDIA_FRAME_REMOTE = 1,
}

/// An I420 frame. The plane pointers are valid only during the callback;
/// copy what you need to keep.
#[repr(C)]
pub struct media_video_frame {
    pub source: media_frame_source,
    pub width: u32,
    pub height: u32,
    pub y: *const u8,
    pub u: *const u8,
    pub v: *const u8,
    pub y_stride: u32,
    pub u_stride: u32,
    pub v_stride: u32,
    /// Capture time on the engine clock (microseconds since the engine was created).
    pub capture_time_us: u64,
    /// For remote frames: the channel member's uid (0 in a 1v1 call).
    pub uid: u32,
}

/// Receives video frames on the engine's "media-render" thread.
pub type media_frame_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, frame: *const media_video_frame)>;

/// The host's userdata pointer; the host promises it may be used from the
/// engine's threads.
struct UserData(*mut c_void);
unsafe impl Send for UserData {}

/// Sets the event callback (NULL clears it). `userdata` is passed back
/// unchanged. The callback runs on the "media-events" thread.
#[no_mangle]
pub extern "C" fn media_engine_set_event_callback(
    engine: *mut media_engine,
    callback: media_event_callback,
    userdata: *mut c_void,
) -> media_result {
    with_engine(engine, |e| {
        let Some(cb) = callback else {
            e.set_event_handler(None);
            return MEDIA_OK;
        };
        let userdata = UserData(userdata);
        e.set_event_handler(Some(Box::new(move |event: &Event| {
            let ud = &userdata;
            let mut strings = EventStrings::default();
            let mut stats = None;
            let mut ev = media_event {
                r#type: media_event_type::MEDIA_EVENT_STATE_CHANGED,
                stream: media_stream::MEDIA_STREAM_NONE,
                state: media_stream_state::MEDIA_STREAM_STOPPED,
                error: MEDIA_OK,
                message: std::ptr::null(),
                width: 0,
                height: 0,
                connection: media_connection_state::MEDIA_CONNECTION_CONNECTING,
                stats: std::ptr::null(),
                server_state: media_server_state::MEDIA_SERVER_CONNECTING,
                call: media_call_event::MEDIA_CALL_INCOMING,
                end_reason: media_call_end_reason::MEDIA_CALL_END_NONE,
                channel_event: media_channel_event::MEDIA_CHANNEL_JOINED,
                call_id: std::ptr::null(),
                user_id: std::ptr::null(),
                nickname: std::ptr::null(),
                channel: std::ptr::null(),
                code: std::ptr::null(),
                uid: 0,
                video: false,
                dropped: false,
                expires_at: 0,
                tx_quality: 0,
                rx_quality: 0,
                audio_muted: false,
                video_muted: false,
            };
            match event {
                Event::StateChanged { stream, state } => {
                    ev.stream = match stream {
                        Stream::LocalAudio => media_stream::MEDIA_STREAM_LOCAL_AUDIO,
                        Stream::LocalVideo => media_stream::MEDIA_STREAM_LOCAL_VIDEO,
                        Stream::EchoTest => media_stream::MEDIA_STREAM_ECHO_TEST,
                        Stream::Call => media_stream::MEDIA_STREAM_CALL,
                        Stream::Channel => media_stream::MEDIA_STREAM_CHANNEL,
                    };
                    ev.state = match state {
                        StreamState::Stopped => media_stream_state::MEDIA_STREAM_STOPPED,
                        StreamState::Started => media_stream_state::MEDIA_STREAM_STARTED,
                        StreamState::Failed => media_stream_state::MEDIA_STREAM_FAILED,
                    };
                }
                Event::Error { kind, message: m } => {
                    ev.r#type = media_event_type::MEDIA_EVENT_ERROR;
                    ev.error = (*kind).into();
                    ev.message = strings.add(m);
                }
                Event::FirstLocalVideoFrame { width, height } => {
                    ev.r#type = media_event_type::MEDIA_EVENT_FIRST_LOCAL_VIDEO_FRAME;
                    (ev.width, ev.height) = (*width, *height);
                }
                Event::FirstRemoteVideoFrame { uid, width, height } => {
                    ev.r#type = media_event_type::MEDIA_EVENT_FIRST_REMOTE_VIDEO_FRAME;
                    (ev.width, ev.height) = (*width, *height);
                    ev.uid = *uid;
                }
                Event::FirstRemoteAudioFrame { uid } => {
                    ev.r#type = media_event_type::MEDIA_EVENT_FIRST_REMOTE_AUDIO_FRAME;
                    ev.uid = *uid;
                }
                Event::Connection { uid, state } => {
                    use crate::engine::events::ConnectionState as C;
                    ev.r#type = media_event_type::MEDIA_EVENT_CONNECTION;
                    ev.uid = *uid;
                    ev.connection = match state {
                        C::Connecting => media_connection_state::MEDIA_CONNECTION_CONNECTING,
                        C::Connected => media_connection_state::MEDIA_CONNECTION_CONNECTED,
                        C::Disconnected => media_connection_state::MEDIA_CONNECTION_DISCONNECTED,
                        C::Failed => media_connection_state::MEDIA_CONNECTION_FAILED,
                    };
                }
                Event::Stats(s) => {
                    ev.r#type = media_event_type::MEDIA_EVENT_STATS;
                    let boxed = Box::new(stats_to_c(s));
                    ev.stats = &*boxed;
                    stats = Some(boxed);
                }
                Event::Server(state) => {
                    use crate::signal::ServerState as S;
                    ev.r#type = media_event_type::MEDIA_EVENT_SERVER;
                    ev.server_state = match state {
                        S::Connecting => media_server_state::MEDIA_SERVER_CONNECTING,
                        S::Connected => media_server_state::MEDIA_SERVER_CONNECTED,
                        S::Reconnecting { .. } => media_server_state::MEDIA_SERVER_RECONNECTING,
                        S::Failed { code, message } => {
                            ev.error = server_code_result(code);
                            ev.code = strings.add(code);
                            ev.message = strings.add(message);
                            media_server_state::MEDIA_SERVER_FAILED
                        }
                        S::Disconnected => media_server_state::MEDIA_SERVER_DISCONNECTED,
                    };
                }
                Event::Call(c) => {
                    use crate::signal::{CallEndReason as R, CallEvent as C};
                    ev.r#type = media_event_type::MEDIA_EVENT_CALL;
                    match c {
                        C::Incoming {
                            call_id,
                            from_user,
                            from_nickname,
                            video,
                        } => {
                            ev.call = media_call_event::MEDIA_CALL_INCOMING;
                            ev.call_id = strings.add(call_id);
                            ev.user_id = strings.add(from_user);
                            ev.nickname = strings.add(from_nickname);
                            ev.video = *video;
                        }
                        C::Ringing { call_id } => {
                            ev.call = media_call_event::MEDIA_CALL_RINGING;
                            ev.call_id = strings.add(call_id);
                        }
                        C::Accepted { call_id } => {
                            ev.call = media_call_event::MEDIA_CALL_ACCEPTED;
                            ev.call_id = strings.add(call_id);
                        }
                        C::RemoteMute {
                            call_id,
                            audio_muted,
                            video_muted,
                        } => {
                            ev.call = media_call_event::MEDIA_CALL_REMOTE_MUTE;
                            ev.call_id = strings.add(call_id);
                            ev.audio_muted = *audio_muted;
                            ev.video_muted = *video_muted;
                        }
                        C::Ended { call_id, reason } => {
                            use media_call_end_reason::*;
                            ev.call = media_call_event::MEDIA_CALL_ENDED;
                            ev.call_id = strings.add(call_id);
                            ev.error = match reason {
                                R::Offline => MEDIA_ERR_PEER_OFFLINE,
                                R::Busy => MEDIA_ERR_BUSY,
                                R::MediaFailed => MEDIA_ERR_NETWORK,
                                R::Error(code) => server_code_result(code),
                                _ => MEDIA_OK,
                            };
                            ev.end_reason = match reason {
                                R::Offline => MEDIA_CALL_END_OFFLINE,
                                R::Busy => MEDIA_CALL_END_BUSY,
                                R::Rejected => MEDIA_CALL_END_REJECTED,
                                R::Timeout => MEDIA_CALL_END_TIMEOUT,
                                R::Cancelled => MEDIA_CALL_END_CANCELLED,
                                R::Hangup => MEDIA_CALL_END_HANGUP,
                                R::PeerDropped => MEDIA_CALL_END_PEER_DROPPED,
                                R::ConnectionLost => MEDIA_CALL_END_CONNECTION_LOST,
                                R::MediaFailed => MEDIA_CALL_END_MEDIA_FAILED,
                                R::Error(code) => {
                                    ev.code = strings.add(code);
                                    MEDIA_CALL_END_ERROR
                                }
                            };
                        }
                    }
                }
                Event::Channel(c) => {
                    use crate::signal::ChannelEvent as C;
                    ev.r#type = media_event_type::MEDIA_EVENT_CHANNEL;
                    match c {
                        C::Joined { channel, uid, .. } => {
                            ev.channel_event = media_channel_event::MEDIA_CHANNEL_JOINED;
                            ev.channel = strings.add(channel);
                            ev.uid = *uid;
                        }
                        C::UserJoined {
                            channel,
                            uid,
                            user_id,
                        } => {
                            ev.channel_event = media_channel_event::MEDIA_CHANNEL_USER_JOINED;
                            ev.channel = strings.add(channel);
                            ev.uid = *uid;
                            ev.user_id = strings.add(user_id);
                        }
                        C::UserOffline {
                            channel,
                            uid,
                            dropped,
                        } => {
                            ev.channel_event = media_channel_event::MEDIA_CHANNEL_USER_OFFLINE;
                            ev.channel = strings.add(channel);
                            ev.uid = *uid;
                            ev.dropped = *dropped;
                        }
                        C::Left { channel } => {
                            ev.channel_event = media_channel_event::MEDIA_CHANNEL_LEFT;
                            ev.channel = strings.add(channel);
                        }
                        C::RemoteMute {
                            channel,
                            uid,
                            audio_muted,
                            video_muted,
                        } => {
                            ev.channel_event = media_channel_event::MEDIA_CHANNEL_REMOTE_MUTE;
                            ev.channel = strings.add(channel);
                            ev.uid = *uid;
                            ev.audio_muted = *audio_muted;
                            ev.video_muted = *video_muted;
                        }
                    }
                }
                Event::NetworkQuality { uid, tx, rx } => {
                    ev.r#type = media_event_type::MEDIA_EVENT_NETWORK_QUALITY;
                    ev.uid = *uid;
                    ev.tx_quality = *tx as u32;
                    ev.rx_quality = *rx as u32;
                }
                Event::TokenWillExpire { expires_at } => {
                    ev.r#type = media_event_type::MEDIA_EVENT_TOKEN_WILL_EXPIRE;
                    ev.expires_at = *expires_at;
                }
                Event::ServerError {
                    code,
                    message,
                    channel,
                } => {
                    ev.r#type = media_event_type::MEDIA_EVENT_SERVER_ERROR;
                    ev.error = server_code_result(code);
                    ev.code = strings.add(code);
                    ev.message = strings.add(message);
                    if let Some(ch) = channel {
                        ev.channel = strings.add(ch);
                    }
                }
            }
            // SAFETY: the host gave this callback for this userdata; `ev`
            // and what it points to outlive the call.
            unsafe { cb(ud.0, &ev) };
            drop((strings, stats));
        })));
        MEDIA_OK
    })
}

/// Sets the video frame callback (NULL clears it) for local preview and
/// decoded remote frames. Runs on the "media-render" thread; a slow
/// callback makes the engine drop (and count) the oldest queued frames.
#[no_mangle]
pub extern "C" fn media_engine_set_frame_callback(
    engine: *mut media_engine,
    callback: media_frame_callback,
    userdata: *mut c_void,
) -> media_result {
    with_engine(engine, |e| {
        let Some(cb) = callback else {
            e.set_frame_handler(None);
            return MEDIA_OK;
        };
        let userdata = UserData(userdata);
        e.set_frame_handler(Some(Box::new(move |source, frame| {
            let ud = &userdata;
            let (source, uid) = match source {
                FrameSource::Local => (media_frame_source::MEDIA_FRAME_LOCAL, 0),
                FrameSource::Remote(uid) => (media_frame_source::MEDIA_FRAME_REMOTE, uid),
            };
            let f = media_video_frame {
                source,
                uid,
                width: frame.width,
                height: frame.height,
                y: frame.y().as_ptr(),
                u: frame.u().as_ptr(),
                v: frame.v().as_ptr(),
                y_stride: frame.y_stride() as u32,
                u_stride: frame.chroma_stride() as u32,
                v_stride: frame.chroma_stride() as u32,
                capture_time_us: frame.capture_us,
            };
            // SAFETY: as for events; the planes live as long as `frame`.
            unsafe { cb(ud.0, &f) };
        })));
        MEDIA_OK
    })
}

fn done(r: crate::Result<()>) -> media_result {
    match r {
        Ok(()) => MEDIA_OK,
        Err(e) => fail(e),
    }
}

/// Hands the host's microphone PCM to the engine
/// (`MEDIA_AUDIO_INPUT_EXTERNAL`): `count` interleaved 16-bit samples (a
/// whole number of frames) at the configured rate and channels, in chunks
/// of any size (10 ms is typical). Real-time safe: it copies into a
/// lock-free ring without allocating, waiting or making a system call, so
/// call it from the audio callback. Samples pushed while no local audio
/// runs are discarded; beyond half a second queued they are dropped and
/// counted (`media_stats.audio_push_dropped_frames`).
/// `MEDIA_ERR_INVALID_STATE` when the input is not external or another
/// thread is pushing at that moment; `MEDIA_ERR_INVALID_ARGUMENT` for a
/// partial frame.
#[no_mangle]
pub extern "C" fn media_engine_push_audio(
    engine: *mut media_engine,
    samples: *const i16,
    count: usize,
) -> media_result {
    with_engine(engine, |e| {
        if count == 0 {
            return MEDIA_OK;
        }
        if samples.is_null() {
            return MEDIA_ERR_NULL_ARGUMENT;
        }
        if count > isize::MAX as usize / 2 {
            return MEDIA_ERR_INVALID_ARGUMENT;
        }
        // SAFETY: the host promises `count` readable samples at `samples`.
        let pcm = unsafe { std::slice::from_raw_parts(samples, count) };
        done(e.push_audio(pcm))
    })
}

/// Fills `samples` with the next `count` interleaved 16-bit samples (a
/// whole number of frames) for the host's speaker
/// (`MEDIA_AUDIO_OUTPUT_EXTERNAL`), at the configured rate and channels;
/// what has not been decoded yet is silence (counted in
/// `media_stats.audio_pull_silent_frames`). Writes how many frames were
/// real audio to `*out_frames` (may be NULL). The pulls set the pace of
/// playout: call it from the speaker's callback. Real-time safe, with the
/// same errors as `media_engine_push_audio`.
#[no_mangle]
pub extern "C" fn media_engine_pull_audio(
    engine: *mut media_engine,
    samples: *mut i16,
    count: usize,
    out_frames: *mut usize,
) -> media_result {
    with_engine(engine, |e| {
        if samples.is_null() && count > 0 {
            return MEDIA_ERR_NULL_ARGUMENT;
        }
        if count > isize::MAX as usize / 2 {
            return MEDIA_ERR_INVALID_ARGUMENT;
        }
        let pcm: &mut [i16] = if count == 0 {
            &mut []
        } else {
            // SAFETY: the host promises `count` writable samples.
            unsafe { std::slice::from_raw_parts_mut(samples, count) }
        };
        match e.pull_audio(pcm) {
            Ok(frames) => {
                // SAFETY: NULL or the host's `size_t`.
                if let Some(out) = unsafe { out_frames.as_mut() } {
                    *out = frames;
                }
                MEDIA_OK
            }
            Err(err) => fail(err),
        }
    })
}

/// Opens the microphone and starts sending audio. Starting twice is OK.
#[no_mangle]
pub extern "C" fn media_engine_start_local_audio(engine: *mut media_engine) -> media_result {
    with_engine(engine, |e| done(e.start_local_audio()))
}

/// Closes the microphone. Stopping twice is OK.
#[no_mangle]
pub extern "C" fn media_engine_stop_local_audio(engine: *mut media_engine) -> media_result {
    with_engine(engine, |e| {
        e.stop_local_audio();
        MEDIA_OK
    })
}

/// Hands the engine a frame the host captured (the engine's `video_input`
/// is `MEDIA_VIDEO_INPUT_EXTERNAL`). Call from any thread at the host's
/// own rate; the planes are read (converted to upright I420) before it
/// returns. The frame becomes the local preview and is encoded at its own
/// upright size: a new size restarts the encoder with a keyframe. Frames
/// pushed faster than the encoder runs replace the oldest waiting one
/// (counted in `media_stats.video_frames_dropped`); frames pushed while no local
/// video runs are discarded (`MEDIA_OK`). `MEDIA_ERR_INVALID_STATE` when
/// the video input is not external; `MEDIA_ERR_INVALID_ARGUMENT` for an
/// unknown format, a `struct_size` too small, odd sizes, short strides, a
/// missing plane or another rotation.
#[no_mangle]
pub extern "C" fn media_engine_push_video_frame(
    engine: *mut media_engine,
    frame: *const media_video_push_frame,
) -> media_result {
    with_engine(engine, |e| {
        // SAFETY: NULL or a host struct of at least `struct_size` bytes;
        // only its first field is read before the size is checked.
        let Some(size) = (unsafe { frame.cast::<u32>().as_ref() }).copied() else {
            return MEDIA_ERR_NULL_ARGUMENT;
        };
        if (size as usize) < std::mem::size_of::<media_video_push_frame>() {
            set_last_error(
                "media_video_push_frame.struct_size is smaller than this version's struct",
            );
            return MEDIA_ERR_INVALID_ARGUMENT;
        }
        // SAFETY: checked non-NULL and as large as this version's struct.
        let f = unsafe { &*frame };
        use crate::devices::external::{PixelFormat, PushedFrame};
        use media_pixel_format::*;
        let format = match f.format {
            x if x == MEDIA_PIXEL_I420 as u32 => PixelFormat::I420,
            x if x == MEDIA_PIXEL_NV12 as u32 => PixelFormat::Nv12,
            x if x == MEDIA_PIXEL_NV21 as u32 => PixelFormat::Nv21,
            _ => return MEDIA_ERR_INVALID_ARGUMENT,
        };
        let (w, h) = (f.width as usize, f.height as usize);
        if w == 0 || h == 0 || w % 2 != 0 || h % 2 != 0 || w > 8192 || h > 8192 {
            set_last_error("pushed frame: width and height must be even, 2..=8192");
            return MEDIA_ERR_INVALID_ARGUMENT;
        }
        // Bytes each plane must hold, from its stride and rows.
        let row = |i: usize| match (i, &format) {
            (0, _) => w,
            (_, PixelFormat::I420) => w / 2,
            (_, _) => w,
        };
        let rows = |i: usize| if i == 0 { h } else { h / 2 };
        let used = if format == PixelFormat::I420 { 3 } else { 2 };
        let mut planes: [&[u8]; 3] = [&[], &[], &[]];
        for i in 0..used {
            let stride = f.strides[i] as usize;
            if f.planes[i].is_null() {
                return MEDIA_ERR_NULL_ARGUMENT;
            }
            if stride < row(i) {
                set_last_error(&format!("plane {i}: stride {stride} is shorter than a row"));
                return MEDIA_ERR_INVALID_ARGUMENT;
            }
            let len = stride * (rows(i) - 1) + row(i);
            // SAFETY: the host promises `stride` bytes per row for
            // `rows` rows (the last one at least a row long), readable
            // during this call.
            planes[i] = unsafe { std::slice::from_raw_parts(f.planes[i], len) };
        }
        let pushed = PushedFrame {
            format,
            width: f.width,
            height: f.height,
            planes,
            strides: f.strides.map(|s| s as usize),
            rotation: f.rotation,
            timestamp_us: (f.timestamp_us != 0).then_some(f.timestamp_us),
        };
        done(e.push_video_frame(&pushed))
    })
}

/// Opens the camera and starts the local preview. Starting twice is OK.
/// `MEDIA_ERR_NO_DEVICE` when the system has no camera.
#[no_mangle]
pub extern "C" fn media_engine_start_local_preview(engine: *mut media_engine) -> media_result {
    with_engine(engine, |e| done(e.start_local_preview()))
}

/// Closes the camera. Stopping twice is OK.
#[no_mangle]
pub extern "C" fn media_engine_stop_local_preview(engine: *mut media_engine) -> media_result {
    with_engine(engine, |e| {
        e.stop_local_preview();
        MEDIA_OK
    })
}

/// Starts the echo test: microphone to speaker and camera to the remote
/// frame callback through the whole pipeline; starts local audio and preview
/// if needed. Starting twice is OK.
#[no_mangle]
pub extern "C" fn media_engine_start_echo_test(engine: *mut media_engine) -> media_result {
    with_engine(engine, |e| done(e.start_echo_test()))
}

/// Stops the echo test and the local streams it started. Stopping twice is OK.
#[no_mangle]
pub extern "C" fn media_engine_stop_echo_test(engine: *mut media_engine) -> media_result {
    with_engine(engine, |e| {
        e.stop_echo_test();
        MEDIA_OK
    })
}

/// Mutes (sends silence) or unmutes the microphone.
#[no_mangle]
pub extern "C" fn media_engine_mute_local_audio(
    engine: *mut media_engine,
    muted: bool,
) -> media_result {
    with_engine(engine, |e| {
        e.mute_local_audio(muted);
        MEDIA_OK
    })
}

/// Stops or resumes sending video; the preview goes on.
#[no_mangle]
pub extern "C" fn media_engine_mute_local_video(
    engine: *mut media_engine,
    muted: bool,
) -> media_result {
    with_engine(engine, |e| {
        e.mute_local_video(muted);
        MEDIA_OK
    })
}

/// The platform interrupted audio (a phone call, Siri, an alarm; iOS's
/// interruption notification, Android losing audio focus): the microphone
/// and speaker are released while the call or channel, its connection and
/// video go on. Streams started meanwhile open their devices on
/// `media_engine_resume_audio`. Twice is fine.
#[no_mangle]
pub extern "C" fn media_engine_interrupt_audio(engine: *mut media_engine) -> media_result {
    with_engine(engine, |e| {
        e.interrupt_audio();
        MEDIA_OK
    })
}

/// The interruption is over: the speaker and (if it was on) the microphone
/// open again. On an error (a device that cannot be opened yet) the engine
/// stays interrupted: try again later. `MEDIA_OK` when not interrupted.
#[no_mangle]
pub extern "C" fn media_engine_resume_audio(engine: *mut media_engine) -> media_result {
    with_engine(engine, |e| done(e.resume_audio()))
}

/// The app went to the background (`true`) or came back (`false`): no
/// video is sent meanwhile, audio goes on; back in the foreground video
/// starts with a keyframe. Independent of the video mute.
#[no_mangle]
pub extern "C" fn media_engine_set_background(
    engine: *mut media_engine,
    background: bool,
) -> media_result {
    with_engine(engine, |e| {
        e.set_background(background);
        MEDIA_OK
    })
}

/// Changes the video target bitrate while running. `MEDIA_ERR_INVALID_ARGUMENT`
/// outside the configured min/max.
#[no_mangle]
pub extern "C" fn media_engine_set_video_bitrate(
    engine: *mut media_engine,
    bitrate_bps: u32,
) -> media_result {
    with_engine(engine, |e| done(e.set_video_bitrate(bitrate_bps)))
}

/// Writes a statistics snapshot to `*out`, as much of it as
/// `out->struct_size` (which the host sets to `sizeof(media_stats)`)
/// covers. `MEDIA_ERR_INVALID_ARGUMENT` when `struct_size` is unset.
#[no_mangle]
pub extern "C" fn media_engine_get_stats(
    engine: *const media_engine,
    out: *mut media_stats,
) -> media_result {
    with_engine(engine, |e| {
        // SAFETY: NULL or a host struct of `struct_size` writable bytes.
        match unsafe { sized::write(out, stats_to_c(&e.stats())) } {
            Ok(()) => MEDIA_OK,
            Err(r) => r,
        }
    })
}

/// Statistics of one remote user (see `media_engine_get_remote_stats`).
/// Bitrates and fps are averaged over about the last second.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct media_remote_stats {
    /// `sizeof(media_remote_stats)` as the host was compiled; set it in
    /// `out[0]` before `media_engine_get_remote_stats`.
    pub struct_size: u32,
    /// The channel member's uid; 0 for the peer of a 1v1 call.
    pub uid: u32,
    pub rtt_us: u64,
    /// Fractions 0..1: of our packets the remote lost, of its packets we lost.
    pub egress_loss: f32,
    pub ingress_loss: f32,
    pub audio_jitter_us: u64,
    pub bandwidth_estimate_bps: u32,
    pub send_bitrate_bps: u32,
    pub audio_recv_bitrate_bps: u32,
    pub video_recv_bitrate_bps: u32,
    pub video_fps: f32,
    pub video_width: u32,
    pub video_height: u32,
    pub audio_packets_received: u64,
    pub audio_packets_lost: u64,
    pub audio_frames_decoded: u64,
    pub audio_concealed: u64,
    pub video_frames_received: u64,
    pub video_frames_decoded: u64,
    pub video_frames_lost: u64,
    pub video_nacks_sent: u64,
    /// Last network quality scores (0 unknown, 1 excellent … 6 down).
    pub tx_quality: u32,
    pub rx_quality: u32,
}

// SAFETY: repr(C) numbers led by `struct_size`.
unsafe impl Grown for media_remote_stats {
    const NAME: &'static str = "media_remote_stats";
    const V1_SIZE: usize = std::mem::size_of::<media_remote_stats>();
}

/// Writes the statistics of up to `capacity` remote users of the running
/// session to `out[0..]` and their total number to `*count` (which may be
/// larger than `capacity`: call again with more room). `out` may be NULL
/// when `capacity` is 0.
#[no_mangle]
pub extern "C" fn media_engine_get_remote_stats(
    engine: *const media_engine,
    out: *mut media_remote_stats,
    capacity: usize,
    count: *mut usize,
) -> media_result {
    with_engine(engine, |e| {
        let Some(count) = (unsafe { count.as_mut() }) else {
            return MEDIA_ERR_NULL_ARGUMENT;
        };
        if out.is_null() && capacity > 0 {
            return MEDIA_ERR_NULL_ARGUMENT;
        }
        // The host's element size, which is also the array's stride.
        let stride = if capacity > 0 {
            // SAFETY: `out` is non-NULL with `capacity` >= 1 entries.
            match unsafe { sized::write(out, media_remote_stats::default()) } {
                Ok(()) => (unsafe { out.cast::<u32>().read() }) as usize,
                Err(r) => return r,
            }
        } else {
            0
        };
        let all = e.remote_stats();
        *count = all.len();
        for (i, r) in all.iter().take(capacity).enumerate() {
            let c = media_remote_stats {
                struct_size: std::mem::size_of::<media_remote_stats>() as u32,
                uid: r.uid,
                rtt_us: r.rtt_us,
                egress_loss: r.egress_loss,
                ingress_loss: r.ingress_loss,
                audio_jitter_us: r.audio_jitter_us,
                bandwidth_estimate_bps: r.bandwidth_estimate_bps,
                send_bitrate_bps: r.send_bitrate_bps,
                audio_recv_bitrate_bps: r.audio_recv_bitrate_bps,
                video_recv_bitrate_bps: r.video_recv_bitrate_bps,
                video_fps: r.video_fps,
                video_width: r.video_width,
                video_height: r.video_height,
                audio_packets_received: r.audio_packets_received,
                audio_packets_lost: r.audio_packets_lost,
                audio_frames_decoded: r.audio_frames_decoded,
                audio_concealed: r.audio_concealed,
                video_frames_received: r.video_frames_received,
                video_frames_decoded: r.video_frames_decoded,
                video_frames_lost: r.video_frames_lost,
                video_nacks_sent: r.video_nacks_sent,
                tx_quality: r.tx_quality as u32,
                rx_quality: r.rx_quality as u32,
            };
            // SAFETY: the host promises `capacity` entries of `stride` bytes;
            // each gets the size it was compiled with.
            let entry = unsafe { out.cast::<u8>().add(i * stride) }.cast::<media_remote_stats>();
            unsafe { entry.cast::<u32>().write_unaligned(stride as u32) };
            if let Err(r) = unsafe { sized::write(entry, c) } {
                return r;
            }
        }
        MEDIA_OK
    })
}

/// Kinds of device for enumeration.
#[repr(C)]
pub enum media_device_kind {
    MEDIA_DEVICE_AUDIO_INPUT = 0,
    MEDIA_DEVICE_AUDIO_OUTPUT = 1,
    MEDIA_DEVICE_CAMERA = 2,
}

/// Longest device id or name, including the NUL.
pub const MEDIA_DEVICE_STRING_MAX: usize = 256;

/// A device as enumeration reports it.
#[repr(C)]
pub struct media_device_info {
    /// The id to select it with (for cameras, the index as text).
    pub id: [c_char; MEDIA_DEVICE_STRING_MAX],
    pub name: [c_char; MEDIA_DEVICE_STRING_MAX],
    pub is_default: bool,
}

fn list_devices(kind: u32) -> Result<Vec<DeviceInfo>, media_result> {
    use media_device_kind::*;
    let list = match kind {
        x if x == MEDIA_DEVICE_AUDIO_INPUT as u32 => Engine::audio_inputs(),
        x if x == MEDIA_DEVICE_AUDIO_OUTPUT as u32 => Engine::audio_outputs(),
        x if x == MEDIA_DEVICE_CAMERA as u32 => Engine::cameras(),
        _ => return Err(MEDIA_ERR_INVALID_ARGUMENT),
    };
    list.map_err(fail)
}

/// Writes how many devices of `kind` (a `media_device_kind`) exist.
#[no_mangle]
pub extern "C" fn media_device_count(kind: u32, out_count: *mut usize) -> media_result {
    guard(|| {
        if out_count.is_null() {
            return MEDIA_ERR_NULL_ARGUMENT;
        }
        let list = try_ffi!(list_devices(kind));
        unsafe { *out_count = list.len() };
        MEDIA_OK
    })
}

fn copy_str(s: &str, out: &mut [c_char; MEDIA_DEVICE_STRING_MAX]) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() >= MEDIA_DEVICE_STRING_MAX || bytes.contains(&0) {
        return false;
    }
    for (o, &b) in out.iter_mut().zip(bytes) {
        *o = b as c_char;
    }
    out[bytes.len()] = 0;
    true
}

/// Writes device `index` of `kind` to `*out`. `MEDIA_ERR_NOT_FOUND` when
/// `index` is past the end (the list can change between calls).
#[no_mangle]
pub extern "C" fn media_device_get_info(
    kind: u32,
    index: usize,
    out: *mut media_device_info,
) -> media_result {
    guard(|| {
        let Some(out) = (unsafe { out.as_mut() }) else {
            return MEDIA_ERR_NULL_ARGUMENT;
        };
        let list = try_ffi!(list_devices(kind));
        let Some(dev) = list.get(index) else {
            return MEDIA_ERR_NOT_FOUND;
        };
        let mut info = media_device_info {
            id: [0; MEDIA_DEVICE_STRING_MAX],
            name: [0; MEDIA_DEVICE_STRING_MAX],
            is_default: dev.is_default,
        };
        if !copy_str(&dev.id, &mut info.id) || !copy_str(&dev.name, &mut info.name) {
            return MEDIA_ERR_BUFFER_TOO_SMALL;
        }
        *out = info;
        MEDIA_OK
    })
}

fn select_audio(engine: *mut media_engine, device_id: *const c_char, input: bool) -> media_result {
    with_engine(engine, |e| {
        let id = match unsafe { opt_str(device_id) } {
            Ok(id) => id,
            Err(r) => return r,
        };
        if let Some(id) = &id {
            let list = if input {
                Engine::audio_inputs()
            } else {
                Engine::audio_outputs()
            };
            if !try_ffi!(list).iter().any(|d| &d.id == id) {
                return MEDIA_ERR_NOT_FOUND;
            }
        }
        if input {
            done(e.set_audio_input(id.map_or(AudioInputConfig::Default, AudioInputConfig::Device)))
        } else {
            done(
                e.set_audio_output(
                    id.map_or(AudioOutputConfig::Default, AudioOutputConfig::Device),
                ),
            )
        }
    })
}

/// Selects the microphone by id (from `media_device_info`), NULL for the
/// system default. A running stream switches. `MEDIA_ERR_NOT_FOUND` for an
/// unknown id.
#[no_mangle]
pub extern "C" fn media_engine_select_audio_input(
    engine: *mut media_engine,
    device_id: *const c_char,
) -> media_result {
    select_audio(engine, device_id, true)
}

/// Selects the speaker by id, NULL for the system default.
#[no_mangle]
pub extern "C" fn media_engine_select_audio_output(
    engine: *mut media_engine,
    device_id: *const c_char,
) -> media_result {
    select_audio(engine, device_id, false)
}

/// Selects the camera by index. `MEDIA_ERR_NO_DEVICE` when the system has
/// no camera, `MEDIA_ERR_NOT_FOUND` when the index is past the last one.
#[no_mangle]
pub extern "C" fn media_engine_select_camera(
    engine: *mut media_engine,
    index: u32,
) -> media_result {
    with_engine(engine, |e| {
        let cams = try_ffi!(Engine::cameras());
        if cams.is_empty() {
            return MEDIA_ERR_NO_DEVICE;
        }
        if index as usize >= cams.len() {
            return MEDIA_ERR_NOT_FOUND;
        }
        done(e.set_video_input(VideoInputConfig::Camera(index)))
    })
}

/// Where and who to register as with `media_engine_connect_server`.
/// Initialise with `media_server_config_default` (which sets
/// `struct_size`), then set the strings. Fields added in later versions go
/// at the end.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct media_server_config {
    /// `sizeof(media_server_config)` as the host was compiled.
    pub struct_size: u32,
    /// Reconnection attempts after the connection breaks.
    pub max_reconnects: u32,
    /// "ws://host:port/ws".
    pub url: *const c_char,
    pub app_id: *const c_char,
    /// The user's openid.
    pub user_id: *const c_char,
    /// Shown to people this user calls; NULL: the user id.
    pub nickname: *const c_char,
    /// From `media-server token` or the app's own token service.
    pub token: *const c_char,
    /// Offer only this IP as ICE host candidate; NULL: every interface.
    pub host_ip: *const c_char,
    /// "host:port" of a STUN server for a server-reflexive candidate; NULL: none.
    pub stun_server: *const c_char,
}

// SAFETY: repr(C) plain data led by `struct_size`; pointers are only read
// as possibly-NULL C strings.
unsafe impl Grown for media_server_config {
    const NAME: &'static str = "media_server_config";
    const V1_SIZE: usize = std::mem::size_of::<media_server_config>();
}

fn server_config_defaults() -> media_server_config {
    media_server_config {
        struct_size: std::mem::size_of::<media_server_config>() as u32,
        url: std::ptr::null(),
        app_id: std::ptr::null(),
        user_id: std::ptr::null(),
        nickname: std::ptr::null(),
        token: std::ptr::null(),
        host_ip: std::ptr::null(),
        stun_server: std::ptr::null(),
        max_reconnects: 5,
    }
}

/// Fills the first `struct_size` bytes of `config` with NULL strings and 5
/// reconnection attempts, and sets `config->struct_size`. Hosts call it
/// through `media_server_config_default(config)`.
#[no_mangle]
pub extern "C" fn media_server_config_init(
    config: *mut media_server_config,
    struct_size: u32,
) -> media_result {
    // SAFETY: the host promises `struct_size` writable bytes at `config`.
    guard(|| unsafe { sized::init(config, struct_size, server_config_defaults()) })
}

unsafe fn server_config_from_c(
    c: &media_server_config,
) -> Result<crate::signal::ServerConfig, media_result> {
    let (url, app, user, token) = unsafe {
        (
            req_str(c.url)?,
            req_str(c.app_id)?,
            req_str(c.user_id)?,
            req_str(c.token)?,
        )
    };
    let mut cfg = crate::signal::ServerConfig::new(&url, &app, &user, &token);
    if let Some(n) = unsafe { opt_str(c.nickname)? } {
        cfg.nickname = n;
    }
    if let Some(ip) = unsafe { opt_str(c.host_ip)? } {
        cfg.network.host_ips = vec![ip.parse().map_err(|_| MEDIA_ERR_INVALID_ARGUMENT)?];
    }
    if let Some(stun) = unsafe { opt_str(c.stun_server)? } {
        cfg.network.stun_server = Some(stun.parse().map_err(|_| MEDIA_ERR_INVALID_ARGUMENT)?);
    }
    cfg.max_reconnects = c.max_reconnects;
    Ok(cfg)
}

/// Connects to the rendezvous server and registers; `MEDIA_EVENT_SERVER`
/// events follow. Replaces an earlier connection. `MEDIA_ERR_UNSUPPORTED`
/// for a URL that is not ws://.
#[no_mangle]
pub extern "C" fn media_engine_connect_server(
    engine: *mut media_engine,
    config: *const media_server_config,
) -> media_result {
    with_engine(engine, |e| {
        // SAFETY: NULL or a host struct of `struct_size` bytes.
        let c = match unsafe { sized::read(config, server_config_defaults()) } {
            Ok(c) => c,
            Err(r) => return r,
        };
        let cfg = match unsafe { server_config_from_c(&c) } {
            Ok(cfg) => cfg,
            Err(r) => return r,
        };
        done(e.connect_server(cfg))
    })
}

/// Leaves the server, ending any call. A no-op when not connected.
#[no_mangle]
pub extern "C" fn media_engine_disconnect_server(engine: *mut media_engine) -> media_result {
    with_engine(engine, |e| {
        e.disconnect_server();
        MEDIA_OK
    })
}

/// Calls `user_id` (audio only unless `video`). Writes the call id,
/// NUL-terminated, into `call_id` (`call_id_len` bytes; 128 always suffice;
/// NULL if not needed). `MEDIA_ERR_INVALID_STATE` when not registered or
/// already in a call.
#[no_mangle]
pub extern "C" fn media_engine_call(
    engine: *mut media_engine,
    user_id: *const c_char,
    video: bool,
    call_id: *mut c_char,
    call_id_len: usize,
) -> media_result {
    with_engine(engine, |e| {
        let to = match unsafe { req_str(user_id) } {
            Ok(s) => s,
            Err(r) => return r,
        };
        if !call_id.is_null() && call_id_len == 0 {
            return MEDIA_ERR_BUFFER_TOO_SMALL;
        }
        let id = try_ffi!(e.call(&to, video));
        if !call_id.is_null() {
            let r = write_c_string(&id, call_id, call_id_len);
            if r != MEDIA_OK {
                let _ = e.hangup();
                return r;
            }
        }
        MEDIA_OK
    })
}

fn with_call_id(
    engine: *mut media_engine,
    call_id: *const c_char,
    f: impl FnOnce(&Engine, &str) -> crate::Result<()>,
) -> media_result {
    with_engine(engine, |e| match unsafe { req_str(call_id) } {
        Ok(id) => done(f(e, &id)),
        Err(r) => r,
    })
}

/// Accepts the ringing incoming call `call_id`.
#[no_mangle]
pub extern "C" fn media_engine_accept(
    engine: *mut media_engine,
    call_id: *const c_char,
) -> media_result {
    with_call_id(engine, call_id, |e, id| e.accept(id))
}

/// Rejects the ringing incoming call `call_id`.
#[no_mangle]
pub extern "C" fn media_engine_reject(
    engine: *mut media_engine,
    call_id: *const c_char,
) -> media_result {
    with_call_id(engine, call_id, |e, id| e.reject(id))
}

/// Ends the current call (cancels it while ringing).
/// `MEDIA_ERR_INVALID_STATE` when there is none.
#[no_mangle]
pub extern "C" fn media_engine_hangup(engine: *mut media_engine) -> media_result {
    with_engine(engine, |e| done(e.hangup()))
}

/// Hands the server a new token (after `MEDIA_EVENT_TOKEN_WILL_EXPIRE`).
#[no_mangle]
pub extern "C" fn media_engine_renew_token(
    engine: *mut media_engine,
    token: *const c_char,
) -> media_result {
    with_call_id(engine, token, |e, t| e.renew_token(t))
}

/// Joins `channel` as `uid` (0: the server assigns one, reported in
/// `MEDIA_CHANNEL_JOINED`), as audience (receive only) or broadcaster.
/// Media then flows with every member where one of the two broadcasts;
/// remote frames carry the member's `uid`, and
/// `media_engine_get_remote_stats` has one entry per member. One channel at
/// a time, and not during a call (`MEDIA_ERR_INVALID_STATE`).
#[no_mangle]
pub extern "C" fn media_engine_join_channel(
    engine: *mut media_engine,
    channel: *const c_char,
    uid: u32,
    audience: bool,
) -> media_result {
    with_call_id(engine, channel, |e, ch| e.join_channel(ch, uid, audience))
}

/// Leaves `channel`.
#[no_mangle]
pub extern "C" fn media_engine_leave_channel(
    engine: *mut media_engine,
    channel: *const c_char,
) -> media_result {
    with_call_id(engine, channel, |e, ch| e.leave_channel(ch))
}

/// A rendezvous server running inside the library (see
/// `media_local_server_start`).
pub struct media_local_server {
    _private: [u8; 0],
}

/// Writes `s` NUL-terminated into `out` (`len` bytes).
fn write_c_string(s: &str, out: *mut c_char, len: usize) -> media_result {
    if out.is_null() {
        return MEDIA_ERR_NULL_ARGUMENT;
    }
    if s.len() + 1 > len {
        return MEDIA_ERR_BUFFER_TOO_SMALL;
    }
    // SAFETY: the host gave `len` writable bytes.
    let buf = unsafe { std::slice::from_raw_parts_mut(out.cast::<u8>(), len) };
    buf[..s.len()].copy_from_slice(s.as_bytes());
    buf[s.len()] = 0;
    MEDIA_OK
}

/// Starts a rendezvous server inside the library for app `app_id` (tokens
/// signed with `secret`), listening on `listen` ("127.0.0.1:0" picks a free
/// port; "0.0.0.0:8080" serves the LAN). Engines connect to the URL from
/// `media_local_server_url`; browsers find the web client at the same
/// address over http. Release with `media_local_server_free`.
/// `MEDIA_ERR_UNSUPPORTED` in builds without the `server` feature;
/// `MEDIA_ERR_INVALID_ARGUMENT` for an address that does not parse or is
/// not one of this machine's; `MEDIA_ERR_INVALID_STATE` when the address
/// is taken; `MEDIA_ERR_PERMISSION_DENIED` for a privileged port.
/// `media_last_error_message` says which.
#[no_mangle]
pub extern "C" fn media_local_server_start(
    listen: *const c_char,
    app_id: *const c_char,
    secret: *const c_char,
    out: *mut *mut media_local_server,
) -> media_result {
    guard(|| {
        if out.is_null() {
            return MEDIA_ERR_NULL_ARGUMENT;
        }
        // SAFETY: checked non-NULL; the host owns the pointer slot.
        unsafe { *out = std::ptr::null_mut() };
        let (listen, app_id, secret) =
            match unsafe { (req_str(listen), req_str(app_id), req_str(secret)) } {
                (Ok(l), Ok(a), Ok(s)) => (l, a, s),
                (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
            };
        #[cfg(feature = "server")]
        {
            let server = try_ffi!(crate::LocalServer::start(&listen, &app_id, &secret));
            // SAFETY: checked non-NULL above.
            unsafe { *out = Box::into_raw(Box::new(server)).cast() };
            MEDIA_OK
        }
        #[cfg(not(feature = "server"))]
        {
            let _ = (listen, app_id, secret);
            MEDIA_ERR_UNSUPPORTED
        }
    })
}

/// Writes the server's WebSocket URL ("ws://127.0.0.1:PORT/ws"),
/// NUL-terminated, into `url` (`url_len` bytes; 64 always suffice).
#[no_mangle]
pub extern "C" fn media_local_server_url(
    server: *const media_local_server,
    url: *mut c_char,
    url_len: usize,
) -> media_result {
    guard(|| {
        #[cfg(feature = "server")]
        {
            match unsafe { server.cast::<crate::LocalServer>().as_ref() } {
                Some(s) => write_c_string(&s.url(), url, url_len),
                None => MEDIA_ERR_NULL_ARGUMENT,
            }
        }
        #[cfg(not(feature = "server"))]
        {
            let _ = (server, url, url_len);
            MEDIA_ERR_UNSUPPORTED
        }
    })
}

/// Mints a token for `user_id` valid for `ttl_seconds` (any channel) and
/// writes it, NUL-terminated, into `token` (`token_len` bytes; 512 always
/// suffice). `MEDIA_ERR_INVALID_ARGUMENT` for what the server would refuse:
/// a user id that is not 1 to 64 of `A-Z a-z 0-9 - _ . @`, or a
/// `ttl_seconds` of 0.
#[no_mangle]
pub extern "C" fn media_local_server_token(
    server: *const media_local_server,
    user_id: *const c_char,
    ttl_seconds: u32,
    token: *mut c_char,
    token_len: usize,
) -> media_result {
    guard(|| {
        let user = match unsafe { req_str(user_id) } {
            Ok(u) => u,
            Err(r) => return r,
        };
        #[cfg(feature = "server")]
        {
            match unsafe { server.cast::<crate::LocalServer>().as_ref() } {
                Some(s) => {
                    let ttl = std::time::Duration::from_secs(ttl_seconds as u64);
                    let t = try_ffi!(s.token(&user, ttl));
                    write_c_string(&t, token, token_len)
                }
                None => MEDIA_ERR_NULL_ARGUMENT,
            }
        }
        #[cfg(not(feature = "server"))]
        {
            let _ = (server, user, ttl_seconds, token, token_len);
            MEDIA_ERR_UNSUPPORTED
        }
    })
}

/// Stops the server, closing every connection. NULL is ignored.
#[no_mangle]
pub extern "C" fn media_local_server_free(server: *mut media_local_server) {
    let _ = guard(|| {
        #[cfg(feature = "server")]
        if !server.is_null() {
            drop(unsafe { Box::from_raw(server.cast::<crate::LocalServer>()) });
        }
        #[cfg(not(feature = "server"))]
        let _ = server;
        MEDIA_OK
    });
}
