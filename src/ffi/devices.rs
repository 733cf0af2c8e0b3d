//! Device enumeration and selection (microphones, speakers, cameras).

use super::*;

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

pub(crate) fn list_devices(kind: u32) -> Result<Vec<DeviceInfo>, media_result> {
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
        // SAFETY: checked non-NULL above; the host's `size_t`.
        unsafe { *out_count = list.len() };
        MEDIA_OK
    })
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
        // SAFETY: NULL or the host's `media_device_info`.
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

pub(crate) fn select_audio(
    engine: *mut media_engine,
    device_id: *const c_char,
    input: bool,
) -> media_result {
    with_engine(engine, |e| {
        // SAFETY: NULL or a NUL-terminated string from the host.
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
