//! The `media_engine` handle: creation and release, and its streams
//! (local audio and preview, the echo test, mute, lifecycle, bitrate).

use super::*;

/// An engine. Create with `media_engine_new`, release with `media_engine_free`.
pub struct media_engine {
    _private: [u8; 0],
}

// SAFETY: an opaque marker, only made by `into_handle` from an `Engine`.
unsafe impl Handle for media_engine {
    type Target = Engine;
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
        // SAFETY: checked non-NULL; the host owns the pointer slot.
        unsafe { *out_engine = into_handle(engine) };
        MEDIA_OK
    })
}

/// Stops everything the engine runs, joins its threads and frees it. NULL
/// is ignored. Must not be called from inside an engine callback.
#[no_mangle]
pub extern "C" fn media_engine_free(engine: *mut media_engine) {
    let _ = guard(|| {
        // SAFETY: NULL or a handle from `media_engine_new`, freed once.
        unsafe { free_handle(engine) };
        MEDIA_OK
    });
}

pub(crate) fn with_engine(
    engine: *const media_engine,
    f: impl FnOnce(&Engine) -> media_result,
) -> media_result {
    // SAFETY: NULL or a live handle from `media_engine_new`.
    guard(|| match unsafe { borrow(engine) } {
        Some(e) => f(e),
        None => MEDIA_ERR_NULL_ARGUMENT,
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
