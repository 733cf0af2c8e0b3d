//! Audio and video codecs: Opus (48 kHz mono, 20 ms frames, VoIP) and H.264
//! constrained baseline, through openh264 or a codec the host hands in
//! ([`video`]). Each wraps its library, sets the real-time defaults, and
//! reports failures as [`crate::Error`] of kind `Codec` instead of
//! panicking.

#[cfg(feature = "openh264")]
pub mod h264;
pub mod opus;
pub mod video;
