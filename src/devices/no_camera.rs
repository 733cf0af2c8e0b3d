//! Builds without the `system-devices` feature (a phone app, which owns
//! its camera): no system cameras. Enumeration is empty and opening one
//! fails with `NoDevice`; host-fed video (`VideoInputConfig::External`) is
//! the way in.

use super::video::{FrameCallback, VideoFormat, VideoInput};
use super::{DeviceInfo, ErrorCallback};
use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};

pub fn list_cameras() -> Result<Vec<DeviceInfo>> {
    Ok(Vec::new())
}

/// A system camera, which this build cannot open.
pub struct CameraSource {
    index: u32,
}

impl CameraSource {
    pub fn new(index: u32, _format: VideoFormat, _clock: Clock) -> Self {
        CameraSource { index }
    }
}

impl VideoInput for CameraSource {
    fn start(&mut self, _on_frame: FrameCallback, _on_error: ErrorCallback) -> Result<VideoFormat> {
        Err(Error::new(
            ErrorKind::NoDevice,
            format!(
                "camera {}: this build has no system cameras (feature system-devices): push frames with VideoInputConfig::External",
                self.index
            ),
        ))
    }

    fn stop(&mut self) {}
}
