//! `media_video_codec`: an H.264 encoder and decoder the host hands in
//! (Android MediaCodec, Apple VideoToolbox, any other), as the engine's
//! [`VideoCodec`].

use std::sync::Arc;

use super::*;
use crate::codec::video::{
    is_keyframe, H264Frame, H264Settings, VideoCodec, VideoDecoder, VideoEncoder,
};
use crate::frame::VideoFrame;

/// What `media_video_codec.encoder_new` is asked for. Filled by the engine;
/// later versions add fields at the end (`struct_size` says how many).
#[repr(C)]
pub struct media_video_encoder_settings {
    /// `sizeof(media_video_encoder_settings)` of the library.
    pub struct_size: u32,
    /// Picture size, both even.
    pub width: u32,
    pub height: u32,
    /// Highest frame rate the encoder will be given.
    pub fps: u32,
    /// Starting target bitrate.
    pub bitrate_bps: u32,
}

/// An H.264 codec of the host's (constrained baseline, Annex B byte
/// streams, packetization-mode 1 on the wire), set in
/// `media_engine_config.video_codec`. The engine copies this struct in
/// `media_engine_new`; `userdata` must stay valid until `media_engine_free`
/// returns. Every callback is required.
///
/// Threads: encoders and decoders are made and freed on any thread (a host
/// thread inside a `media_engine_*` call that starts or stops video, or an
/// engine thread) and used on engine threads (one send thread, one receive
/// thread per remote), so `encoder_new` and `decoder_new` may run at the
/// same time on different threads; the calls on one encoder or one decoder
/// never overlap. A callback must not call back into the engine.
///
/// Results: 0 (`MEDIA_OK`) for success, any other value a failure. An
/// encoder's failures are reported once per run as a `MEDIA_ERR_CODEC`
/// error event, and after 3 in a row the encoder is freed and a new one
/// made. A decoder's failure is counted (`media_stats.video_decode_errors`)
/// and makes the engine wait for, and ask for, the next keyframe; a
/// decoder that fails on a keyframe is freed and a new one gets it. A NULL
/// from `encoder_new` or `decoder_new` is reported once as an error event.
/// Decoders are made when a remote's first video arrives.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct media_video_codec {
    /// `sizeof(media_video_codec)` as the host was compiled.
    pub struct_size: u32,
    /// Passed to `encoder_new` and `decoder_new`.
    pub userdata: *mut c_void,
    /// A new encoder whose first frame is an IDR, or NULL on failure. A
    /// new size or frame rate gets a new encoder.
    pub encoder_new: Option<
        unsafe extern "C" fn(
            userdata: *mut c_void,
            settings: *const media_video_encoder_settings,
        ) -> *mut c_void,
    >,
    /// Encodes `frame` (I420, the encoder's size, `timestamp_us` its
    /// presentation time; readable during the call) as one access unit of
    /// Annex B NAL units written to `out` (`capacity` bytes, at least twice
    /// the frame's pixel count). `keyframe` asks for an IDR: it is set once
    /// per request (and on a new encoder's first call), so an encoder that
    /// hands out a frame a call or two later makes that one an IDR. Sets
    /// `*out_len` to the bytes written; 0 skips the frame (or has no output
    /// yet). An encoder may also make IDRs on its own.
    pub encoder_encode: Option<
        unsafe extern "C" fn(
            encoder: *mut c_void,
            frame: *const media_video_push_frame,
            keyframe: bool,
            out: *mut u8,
            capacity: usize,
            out_len: *mut usize,
        ) -> i32,
    >,
    /// Changes the target bitrate from the next frame (the engine's
    /// congestion control calls it as the network changes).
    pub encoder_set_bitrate:
        Option<unsafe extern "C" fn(encoder: *mut c_void, bitrate_bps: u32) -> i32>,
    pub encoder_free: Option<unsafe extern "C" fn(encoder: *mut c_void)>,
    /// A new decoder, or NULL on failure.
    pub decoder_new: Option<unsafe extern "C" fn(userdata: *mut c_void) -> *mut c_void>,
    /// Decodes one access unit (`data`, `len` bytes of Annex B). For a
    /// picture, fills `*out` with its format, size, planes and strides,
    /// valid until the next call on this decoder; leaves `out->width` 0
    /// when there is no picture yet. `out->struct_size` is the engine's
    /// `sizeof(media_video_push_frame)`: write only the fields it covers and
    /// leave it as it is.
    pub decoder_decode: Option<
        unsafe extern "C" fn(
            decoder: *mut c_void,
            data: *const u8,
            len: usize,
            out: *mut media_video_push_frame,
        ) -> i32,
    >,
    pub decoder_free: Option<unsafe extern "C" fn(decoder: *mut c_void)>,
}

// SAFETY: repr(C) plain data led by `struct_size`; any pointer bits are a
// valid `*mut c_void`, and a function pointer field is NULL (None) or the
// host's function.
unsafe impl sized::Grown for media_video_codec {
    const NAME: &'static str = "media_video_codec";
    // The end of its last field: fields added later start at or after it.
    const V1_SIZE: usize = std::mem::offset_of!(media_video_codec, decoder_free)
        + std::mem::size_of::<Option<unsafe extern "C" fn(*mut c_void)>>();
}

/// Callbacks checked present, ready to call.
#[derive(Clone, Copy)]
struct Callbacks {
    userdata: *mut c_void,
    encoder_new:
        unsafe extern "C" fn(*mut c_void, *const media_video_encoder_settings) -> *mut c_void,
    encoder_encode: unsafe extern "C" fn(
        *mut c_void,
        *const media_video_push_frame,
        bool,
        *mut u8,
        usize,
        *mut usize,
    ) -> i32,
    encoder_set_bitrate: unsafe extern "C" fn(*mut c_void, u32) -> i32,
    encoder_free: unsafe extern "C" fn(*mut c_void),
    decoder_new: unsafe extern "C" fn(*mut c_void) -> *mut c_void,
    decoder_decode:
        unsafe extern "C" fn(*mut c_void, *const u8, usize, *mut media_video_push_frame) -> i32,
    decoder_free: unsafe extern "C" fn(*mut c_void),
}

/// The host's codec as the engine's [`VideoCodec`].
struct HostCodec(Callbacks);

// SAFETY: the host promises (media_video_codec's contract) that its
// callbacks and `userdata` may be used from any engine thread, and that one
// encoder or decoder is only used by one thread at a time, which the engine
// keeps.
unsafe impl Send for HostCodec {}
// SAFETY: as above; `encoder_new` / `decoder_new` may run concurrently.
unsafe impl Sync for HostCodec {}

/// The host's codec from `media_engine_config.video_codec`.
///
/// # Safety
/// `p` points to a host `media_video_codec` of `struct_size` readable bytes.
pub(crate) unsafe fn host_codec(
    p: *const media_video_codec,
) -> Result<Arc<dyn VideoCodec>, media_result> {
    // SAFETY: all-zero is a valid value (NULL pointers, no callbacks).
    let zero: media_video_codec = unsafe { std::mem::zeroed() };
    // SAFETY: this function's contract.
    let c = unsafe { sized::read(p, zero) }?;
    let missing = |name: &str| {
        set_last_error(&format!(
            "media_video_codec.{name} is NULL: every callback is required"
        ));
        MEDIA_ERR_INVALID_ARGUMENT
    };
    Ok(Arc::new(HostCodec(Callbacks {
        userdata: c.userdata,
        encoder_new: c.encoder_new.ok_or_else(|| missing("encoder_new"))?,
        encoder_encode: c.encoder_encode.ok_or_else(|| missing("encoder_encode"))?,
        encoder_set_bitrate: c
            .encoder_set_bitrate
            .ok_or_else(|| missing("encoder_set_bitrate"))?,
        encoder_free: c.encoder_free.ok_or_else(|| missing("encoder_free"))?,
        decoder_new: c.decoder_new.ok_or_else(|| missing("decoder_new"))?,
        decoder_decode: c.decoder_decode.ok_or_else(|| missing("decoder_decode"))?,
        decoder_free: c.decoder_free.ok_or_else(|| missing("decoder_free"))?,
    })))
}

fn host_failed(what: &str, code: i32) -> crate::Error {
    crate::Error::codec(format!("the host's H.264 {what} failed with {code}"))
}

impl VideoCodec for HostCodec {
    fn name(&self) -> &str {
        "host"
    }

    fn encoder(&self, settings: H264Settings) -> crate::Result<Box<dyn VideoEncoder>> {
        let s = media_video_encoder_settings {
            struct_size: std::mem::size_of::<media_video_encoder_settings>() as u32,
            width: settings.width,
            height: settings.height,
            fps: settings.max_fps.round() as u32,
            bitrate_bps: settings.bitrate_bps,
        };
        // SAFETY: the host's function with its userdata and a settings
        // struct that lives across the call.
        let handle = unsafe { (self.0.encoder_new)(self.0.userdata, &s) };
        if handle.is_null() {
            return Err(crate::Error::codec(format!(
                "the host's H.264 encoder_new returned NULL for {}x{} at {} fps",
                s.width, s.height, s.fps
            )));
        }
        // At least twice the pixels: an IDR of raw macroblocks with
        // headers and emulation prevention fits.
        let capacity = (settings.width as usize * settings.height as usize) * 2 + 16 * 1024;
        Ok(Box::new(HostEncoder {
            c: self.0,
            handle,
            settings,
            keyframe: true,
            out: vec![0; capacity],
        }))
    }

    fn decoder(&self) -> crate::Result<Box<dyn VideoDecoder>> {
        // SAFETY: the host's function with its userdata.
        let handle = unsafe { (self.0.decoder_new)(self.0.userdata) };
        if handle.is_null() {
            return Err(crate::Error::codec(
                "the host's H.264 decoder_new returned NULL",
            ));
        }
        Ok(Box::new(HostDecoder { c: self.0, handle }))
    }
}

struct HostEncoder {
    c: Callbacks,
    handle: *mut c_void,
    settings: H264Settings,
    /// The next frame must be an IDR.
    keyframe: bool,
    out: Vec<u8>,
}

// SAFETY: the encoder is used by one engine thread at a time (the host's
// contract allows that thread to change).
unsafe impl Send for HostEncoder {}

impl VideoEncoder for HostEncoder {
    fn settings(&self) -> H264Settings {
        self.settings
    }

    fn request_keyframe(&mut self) {
        self.keyframe = true;
    }

    fn set_bitrate(&mut self, bps: u32) -> crate::Result<()> {
        // Taken as the setting even when the host fails it: the engine
        // reports the failure once instead of retrying on every frame.
        self.settings.bitrate_bps = bps;
        // SAFETY: a live encoder of the host's.
        let code = unsafe { (self.c.encoder_set_bitrate)(self.handle, bps) };
        if code != 0 {
            return Err(host_failed("encoder_set_bitrate", code));
        }
        Ok(())
    }

    fn encode(&mut self, frame: &VideoFrame, pts_ms: u64) -> crate::Result<Option<H264Frame>> {
        if (frame.width, frame.height) != (self.settings.width, self.settings.height) {
            return Err(crate::Error::invalid_argument(format!(
                "frame is {}x{}, encoder expects {}x{}",
                frame.width, frame.height, self.settings.width, self.settings.height
            )));
        }
        let picture = media_video_push_frame {
            struct_size: std::mem::size_of::<media_video_push_frame>() as u32,
            format: media_pixel_format::MEDIA_PIXEL_I420 as u32,
            width: frame.width,
            height: frame.height,
            planes: [frame.y().as_ptr(), frame.u().as_ptr(), frame.v().as_ptr()],
            strides: [
                frame.y_stride() as u32,
                frame.chroma_stride() as u32,
                frame.chroma_stride() as u32,
            ],
            rotation: 0,
            timestamp_us: pts_ms * 1000,
        };
        let mut len = 0usize;
        // SAFETY: a live encoder; the picture's planes and `out` live
        // across the call, `out` with `capacity` writable bytes.
        let code = unsafe {
            (self.c.encoder_encode)(
                self.handle,
                &picture,
                self.keyframe,
                self.out.as_mut_ptr(),
                self.out.len(),
                &mut len,
            )
        };
        if code != 0 {
            return Err(host_failed("encoder_encode", code));
        }
        // Asked once: a platform encoder may hand the IDR out a call or
        // two later, and asking again would make a second one.
        self.keyframe = false;
        if len > self.out.len() {
            return Err(crate::Error::codec(format!(
                "the host's H.264 encoder_encode wrote {len} bytes into {}",
                self.out.len()
            )));
        }
        if len == 0 {
            return Ok(None);
        }
        let data = self.out[..len].to_vec();
        let keyframe = is_keyframe(&data);
        Ok(Some(H264Frame { data, keyframe }))
    }
}

impl Drop for HostEncoder {
    fn drop(&mut self) {
        // SAFETY: a live encoder, freed once.
        unsafe { (self.c.encoder_free)(self.handle) };
    }
}

struct HostDecoder {
    c: Callbacks,
    handle: *mut c_void,
}

// SAFETY: as for `HostEncoder`.
unsafe impl Send for HostDecoder {}

impl VideoDecoder for HostDecoder {
    fn decode(&mut self, annexb: &[u8], capture_us: u64) -> crate::Result<Option<VideoFrame>> {
        if annexb.is_empty() {
            return Err(crate::Error::invalid_argument("empty h264 access unit"));
        }
        // SAFETY: all-zero is a valid picture description (no planes).
        let mut out: media_video_push_frame = unsafe { std::mem::zeroed() };
        out.struct_size = std::mem::size_of::<media_video_push_frame>() as u32;
        // SAFETY: a live decoder; `annexb` and `out` live across the call.
        let code = unsafe {
            (self.c.decoder_decode)(self.handle, annexb.as_ptr(), annexb.len(), &mut out)
        };
        if code != 0 {
            return Err(host_failed("decoder_decode", code));
        }
        if out.width == 0 {
            return Ok(None);
        }
        // SAFETY: the host's picture, its planes valid until the next call
        // on this decoder; converted (copied) before that.
        let picture = unsafe { pushed_frame(&out, "the host decoder's picture") }
            .map_err(|(_, message)| crate::Error::codec(message))?;
        picture.to_i420(capture_us).map(Some)
    }
}

impl Drop for HostDecoder {
    fn drop(&mut self) {
        // SAFETY: a live decoder, freed once.
        unsafe { (self.c.decoder_free)(self.handle) };
    }
}
