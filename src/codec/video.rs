//! The H.264 codec seam: what the engine asks of an encoder and a decoder,
//! and who makes them. The library's own is openh264 (feature `openh264`);
//! a host can hand in its platform's codec instead (Android MediaCodec,
//! Apple VideoToolbox: hardware, less battery, and a smaller library), from
//! Rust through [`VideoCodec`] or from C through `media_video_codec`.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::frame::VideoFrame;

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct H264Settings {
    pub width: u32,
    pub height: u32,
    pub max_fps: f32,
    pub bitrate_bps: u32,
}

impl Default for H264Settings {
    fn default() -> Self {
        H264Settings {
            width: 640,
            height: 360,
            max_fps: 30.0,
            bitrate_bps: 800_000,
        }
    }
}

/// One encoded access unit (Annex B).
#[derive(Debug, Clone)]
pub struct H264Frame {
    pub data: Vec<u8>,
    pub keyframe: bool,
}

/// Whether an Annex B access unit holds an IDR slice.
pub fn is_keyframe(annexb: &[u8]) -> bool {
    let mut i = 0;
    while i + 3 < annexb.len() {
        if annexb[i] == 0 && annexb[i + 1] == 0 && annexb[i + 2] == 1 {
            if annexb[i + 3] & 0x1f == 5 {
                return true;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    false
}

/// A picture size the encoder takes: even, non-zero, at most 3840x2160.
pub fn check_size(width: u32, height: u32) -> Result<()> {
    if width == 0
        || height == 0
        || width % 2 == 1
        || height % 2 == 1
        || width > 3840
        || height > 2160
    {
        return Err(Error::invalid_argument(format!(
            "video size {width}x{height} must be even, non-zero, at most 3840x2160"
        )));
    }
    Ok(())
}

/// Settings every encoder takes: a size [`check_size`] accepts, 1..=120
/// fps and a bitrate [`check_bitrate`] accepts.
pub fn check_settings(s: &H264Settings) -> Result<()> {
    check_size(s.width, s.height)?;
    if !(1.0..=120.0).contains(&s.max_fps) {
        return Err(Error::invalid_argument(format!(
            "frame rate {} out of 1..=120",
            s.max_fps
        )));
    }
    check_bitrate(s.bitrate_bps)
}

/// A target bitrate within 30 kbit/s..=50 Mbit/s.
pub fn check_bitrate(bps: u32) -> Result<()> {
    if !(30_000..=50_000_000).contains(&bps) {
        return Err(Error::invalid_argument(format!(
            "video bitrate {bps} out of 30000..=50000000"
        )));
    }
    Ok(())
}

/// I420 frames in, H.264 constrained-baseline access units (Annex B) out.
/// Runs on the engine's video send thread.
pub trait VideoEncoder: Send {
    /// The settings it runs with (the bitrate as last set).
    fn settings(&self) -> H264Settings;
    /// Makes the next encoded frame an IDR.
    fn request_keyframe(&mut self);
    /// Changes the target bitrate (already checked by [`check_bitrate`]);
    /// applied from the next frame.
    fn set_bitrate(&mut self, bps: u32) -> Result<()>;
    /// Encodes one frame of the settings' size. `pts_ms` is its
    /// presentation time. `None`: rate control skipped the frame.
    fn encode(&mut self, frame: &VideoFrame, pts_ms: u64) -> Result<Option<H264Frame>>;
}

/// H.264 access units (Annex B) in, I420 frames out. Runs on the engine's
/// video receive thread of one remote.
pub trait VideoDecoder: Send {
    /// Decodes one access unit; the frame carries `capture_us`. `None`: no
    /// picture yet (parameter sets only). Corrupt input or a missing
    /// reference is an error: the engine then waits for (and asks for) an
    /// IDR.
    fn decode(&mut self, annexb: &[u8], capture_us: u64) -> Result<Option<VideoFrame>>;
}

/// Makes the engine's H.264 encoders (one per local video stream, a new
/// one whenever its size or frame rate changes) and decoders (one per
/// remote). Called from engine threads, possibly at the same time.
pub trait VideoCodec: Send + Sync {
    /// A short name for logs ("openh264", "host").
    fn name(&self) -> &str;
    /// An encoder for `settings` (already checked by [`check_settings`]),
    /// whose first frame is an IDR.
    fn encoder(&self, settings: H264Settings) -> Result<Box<dyn VideoEncoder>>;
    fn decoder(&self) -> Result<Box<dyn VideoDecoder>>;
}

/// Which codec encodes and decodes video.
#[derive(Clone, Default)]
pub enum VideoCodecConfig {
    /// The library's own (openh264, feature `openh264`).
    #[default]
    Builtin,
    /// The host's: a phone's MediaCodec or VideoToolbox, or any other.
    Host(Arc<dyn VideoCodec>),
}

impl fmt::Debug for VideoCodecConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VideoCodecConfig::Builtin => f.write_str("Builtin"),
            VideoCodecConfig::Host(c) => write!(f, "Host({})", c.name()),
        }
    }
}

/// Two configs are equal when they name the same codec object.
impl PartialEq for VideoCodecConfig {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (VideoCodecConfig::Builtin, VideoCodecConfig::Builtin) => true,
            (VideoCodecConfig::Host(a), VideoCodecConfig::Host(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl VideoCodecConfig {
    /// The codec to use; `Unsupported` for `Builtin` in a build without
    /// the `openh264` feature.
    pub fn codec(&self) -> Result<Arc<dyn VideoCodec>> {
        match self {
            VideoCodecConfig::Host(c) => Ok(c.clone()),
            VideoCodecConfig::Builtin => builtin(),
        }
    }
}

#[cfg(feature = "openh264")]
fn builtin() -> Result<Arc<dyn VideoCodec>> {
    Ok(Arc::new(super::h264::Openh264))
}

#[cfg(not(feature = "openh264"))]
fn builtin() -> Result<Arc<dyn VideoCodec>> {
    Err(Error::new(
        crate::error::ErrorKind::Unsupported,
        "this build of libmedia has no H.264 codec of its own (feature `openh264`): \
         set the host's (EngineConfig::video_codec, media_engine_config.video_codec)",
    ))
}

/// A new encoder from `codec`, its settings checked first.
pub(crate) fn new_encoder(
    codec: &dyn VideoCodec,
    settings: H264Settings,
) -> Result<Box<dyn VideoEncoder>> {
    check_settings(&settings)?;
    codec.encoder(settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn settings_outside_the_bounds_are_refused() {
        let ok = H264Settings::default();
        assert!(check_settings(&ok).is_ok());
        for bad in [
            H264Settings { width: 321, ..ok },
            H264Settings { height: 0, ..ok },
            H264Settings { width: 4096, ..ok },
            H264Settings { max_fps: 0.0, ..ok },
            H264Settings {
                max_fps: 121.0,
                ..ok
            },
            H264Settings {
                bitrate_bps: 29_999,
                ..ok
            },
        ] {
            assert_eq!(
                check_settings(&bad).unwrap_err().kind(),
                ErrorKind::InvalidArgument,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn keyframes_are_found_after_any_start_code() {
        assert!(is_keyframe(&[0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x65, 9]));
        assert!(!is_keyframe(&[0, 0, 0, 1, 0x41, 0x65, 0x65]));
        assert!(!is_keyframe(&[0, 0, 1]));
        assert!(!is_keyframe(&[]));
    }

    #[test]
    fn host_configs_are_equal_only_for_the_same_codec() {
        struct Nothing;
        impl VideoCodec for Nothing {
            fn name(&self) -> &str {
                "nothing"
            }
            fn encoder(&self, _: H264Settings) -> Result<Box<dyn VideoEncoder>> {
                Err(Error::codec("none"))
            }
            fn decoder(&self) -> Result<Box<dyn VideoDecoder>> {
                Err(Error::codec("none"))
            }
        }
        let a: Arc<dyn VideoCodec> = Arc::new(Nothing);
        let host = VideoCodecConfig::Host(a.clone());
        assert_eq!(host, VideoCodecConfig::Host(a));
        assert_ne!(host, VideoCodecConfig::Host(Arc::new(Nothing)));
        assert_ne!(host, VideoCodecConfig::Builtin);
        assert_eq!(format!("{host:?}"), "Host(nothing)");
        assert_eq!(host.codec().unwrap().name(), "nothing");
    }
}
