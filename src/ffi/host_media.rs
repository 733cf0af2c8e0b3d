//! Media the host captures and plays itself: pushed video frames, pushed
//! and pulled PCM (the phone's camera and voice processing).

use super::*;

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
        // SAFETY: checked non-NULL and as large as this version's struct;
        // its planes are the host's, readable during this call.
        match unsafe { pushed_frame(&*frame, "pushed frame") } {
            Ok(pushed) => done(e.push_video_frame(&pushed)),
            Err((code, message)) => {
                set_last_error(&message);
                code
            }
        }
    })
}

/// A host's picture as a [`PushedFrame`] over its planes, checked: a known
/// format, even sizes within 2..=8192, strides at least a row, no missing
/// plane. `what` names the picture in the error's message.
///
/// # Safety
/// Each plane the format uses is NULL or holds `stride` bytes per row for
/// its rows, readable for the returned frame's lifetime.
pub(crate) unsafe fn pushed_frame<'a>(
    f: &media_video_push_frame,
    what: &str,
) -> Result<crate::devices::external::PushedFrame<'a>, (media_result, String)> {
    use crate::devices::external::{PixelFormat, PushedFrame};
    use media_pixel_format::*;
    let format = match f.format {
        x if x == MEDIA_PIXEL_I420 as u32 => PixelFormat::I420,
        x if x == MEDIA_PIXEL_NV12 as u32 => PixelFormat::Nv12,
        x if x == MEDIA_PIXEL_NV21 as u32 => PixelFormat::Nv21,
        _ => {
            return Err((
                MEDIA_ERR_INVALID_ARGUMENT,
                format!("{what}: format {} is not a media_pixel_format", f.format),
            ));
        }
    };
    let (w, h) = (f.width as usize, f.height as usize);
    if w == 0 || h == 0 || w % 2 != 0 || h % 2 != 0 || w > 8192 || h > 8192 {
        return Err((
            MEDIA_ERR_INVALID_ARGUMENT,
            format!("{what}: width and height must be even, 2..=8192"),
        ));
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
    for (i, plane) in planes.iter_mut().enumerate().take(used) {
        let stride = f.strides[i] as usize;
        if f.planes[i].is_null() {
            return Err((
                MEDIA_ERR_NULL_ARGUMENT,
                format!("{what}: plane {i} is NULL"),
            ));
        }
        if stride < row(i) {
            return Err((
                MEDIA_ERR_INVALID_ARGUMENT,
                format!("{what}: plane {i}: stride {stride} is shorter than a row"),
            ));
        }
        let Some(len) = stride
            .checked_mul(rows(i) - 1)
            .and_then(|n| n.checked_add(row(i)))
            .filter(|&n| n <= isize::MAX as usize)
        else {
            return Err((
                MEDIA_ERR_INVALID_ARGUMENT,
                format!("{what}: plane {i}: stride {stride} is too large"),
            ));
        };
        // SAFETY: the host promises `stride` bytes per row for
        // `rows` rows (the last one at least a row long), readable
        // during this call.
        *plane = unsafe { std::slice::from_raw_parts(f.planes[i], len) };
    }
    Ok(PushedFrame {
        format,
        width: f.width,
        height: f.height,
        planes,
        strides: f.strides.map(|s| s as usize),
        rotation: f.rotation,
        timestamp_us: (f.timestamp_us != 0).then_some(f.timestamp_us),
    })
}
