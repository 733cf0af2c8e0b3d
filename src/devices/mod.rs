//! Devices: microphones, speakers and cameras, each behind a trait with a
//! real backend (cpal, nokhwa) and fakes (tone / WAV / silence, test pattern
//! / Y4M, WAV / null / callback sinks) chosen by configuration, plus the
//! host-fed ones (pushed video frames, pushed and pulled PCM).
//!
//! Owns device threads and the real-time callbacks. Must not encode, decode
//! or touch the network: it only hands raw samples and frames onward.

pub mod audio;
#[cfg(feature = "system-devices")]
pub mod camera;
#[cfg(not(feature = "system-devices"))]
#[path = "no_camera.rs"]
pub mod camera;
pub mod convert;
#[cfg(feature = "system-devices")]
pub mod cpal_audio;
#[cfg(not(feature = "system-devices"))]
#[path = "no_system_audio.rs"]
pub mod cpal_audio;
pub mod external;
pub mod external_audio;
pub mod pattern;
pub mod resample;
pub mod video;

use std::sync::Arc;

use crate::error::Error;

/// A device as enumeration reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Stable id to open the device with.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Whether the system uses it by default.
    pub is_default: bool,
}

/// Receives errors a running device reports (disconnects, read failures).
/// Called from device threads; must not block.
pub type ErrorCallback = Arc<dyn Fn(Error) + Send + Sync>;
