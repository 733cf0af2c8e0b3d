//! The real camera backend through nokhwa (V4L2, AVFoundation, Media
//! Foundation). nokhwa's camera is not `Send`, so it is opened, read and
//! closed on its own thread ("media-camera"); frames are converted to I420 and
//! scaled to the requested size there.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::bounded;
use nokhwa::pixel_format::RgbFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
};
use nokhwa::{Camera, NokhwaError};

use super::convert::{self, PixelFormat};
use super::video::{FrameCallback, VideoFormat, VideoInput};
use super::{DeviceInfo, ErrorCallback};
use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};
use crate::frame::VideoFrame;

fn map_err(context: &str, e: NokhwaError) -> Error {
    let text = e.to_string();
    let kind = if text.contains("Permission denied") || text.contains("EACCES") {
        ErrorKind::PermissionDenied
    } else if text.contains("No such file") || text.contains("No such device") {
        ErrorKind::NoDevice
    } else {
        ErrorKind::DeviceUnavailable
    };
    Error::new(kind, format!("{context}: {text}"))
}

/// Cameras the system offers. Empty (not an error) when there are none.
pub fn list_cameras() -> Result<Vec<DeviceInfo>> {
    let cams = match nokhwa::query(ApiBackend::Auto) {
        Ok(c) => c,
        // No video subsystem at all means no cameras.
        Err(_) => return Ok(Vec::new()),
    };
    Ok(cams
        .iter()
        .enumerate()
        .map(|(i, c)| DeviceInfo {
            id: c.index().to_string(),
            name: c.human_name(),
            is_default: i == 0,
        })
        .collect())
}

/// A camera opened by index with a requested size and rate. Frames are
/// scaled to exactly the requested size.
pub struct CameraSource {
    index: u32,
    format: VideoFormat,
    clock: Clock,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl CameraSource {
    pub fn new(index: u32, format: VideoFormat, clock: Clock) -> Self {
        CameraSource {
            index,
            format,
            clock,
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        }
    }
}

fn open(index: u32, want: VideoFormat) -> Result<Camera> {
    let available = list_cameras()?;
    if available.is_empty() {
        return Err(Error::new(
            ErrorKind::NoDevice,
            "no camera found on this system",
        ));
    }
    let loose = RequestedFormat::new::<RgbFormat>(RequestedFormatType::AbsoluteHighestFrameRate);
    let mut cam = Camera::new(CameraIndex::Index(index), loose)
        .map_err(|e| map_err(&format!("open camera {index}"), e))?;
    // Pick the closest supported mode ourselves (nokhwa's `Closest` needs an exact size match).
    let formats = cam
        .compatible_camera_formats()
        .map_err(|e| map_err("list camera formats", e))?;
    let score = |f: &CameraFormat| {
        let size = (f.width() as i64 - want.width as i64).abs()
            + (f.height() as i64 - want.height as i64).abs();
        let rate = (f.frame_rate() as i64 - want.fps as i64).abs();
        let kind = match f.format() {
            FrameFormat::NV12 | FrameFormat::YUYV => 0,
            FrameFormat::MJPEG => 1,
            _ => 2,
        };
        (size, rate, kind)
    };
    if let Some(best) = formats.iter().min_by_key(|f| score(f)).copied() {
        cam.set_camera_requset(RequestedFormat::new::<RgbFormat>(
            RequestedFormatType::Exact(best),
        ))
        .map_err(|e| map_err("set camera format", e))?;
    }
    cam.open_stream().map_err(|e| map_err("start camera", e))?;
    Ok(cam)
}

fn to_i420(buf: &nokhwa::Buffer) -> Result<VideoFrame> {
    let res = buf.resolution();
    let (w, h) = (res.width(), res.height());
    let raw = buf.buffer();
    let data = match buf.source_frame_format() {
        FrameFormat::YUYV => convert::to_i420(PixelFormat::Yuyv, w, h, raw)?,
        FrameFormat::NV12 => convert::to_i420(PixelFormat::Nv12, w, h, raw)?,
        FrameFormat::GRAY => convert::to_i420(PixelFormat::Gray, w, h, raw)?,
        FrameFormat::RAWRGB => convert::to_i420(PixelFormat::Rgb24, w, h, raw)?,
        FrameFormat::MJPEG | FrameFormat::RAWBGR => {
            let rgb = buf
                .decode_image::<RgbFormat>()
                .map_err(|e| map_err("decode camera frame", e))?;
            convert::to_i420(PixelFormat::Rgb24, rgb.width(), rgb.height(), rgb.as_raw())?
        }
    };
    Ok(VideoFrame::new(w & !1, h & !1, data, 0))
}

impl VideoInput for CameraSource {
    fn start(
        &mut self,
        mut on_frame: FrameCallback,
        on_error: ErrorCallback,
    ) -> Result<VideoFormat> {
        self.stop();
        let (index, want, clock) = (self.index, self.format, self.clock);
        let stop = Arc::new(AtomicBool::new(false));
        self.stop = stop.clone();
        let (opened_tx, opened_rx) = bounded::<Result<()>>(1);
        let thread = std::thread::Builder::new()
            .name("media-camera".into())
            .spawn(move || {
                let mut cam = match open(index, want) {
                    Ok(c) => {
                        let _ = opened_tx.send(Ok(()));
                        c
                    }
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                while !stop.load(Ordering::Relaxed) {
                    let frame = cam
                        .frame()
                        .map_err(|e| map_err("camera stopped delivering", e))
                        .and_then(|b| to_i420(&b));
                    match frame {
                        Ok(f) => {
                            let mut f = convert::scale(&f, want.width, want.height);
                            f.capture_us = clock.now_us();
                            on_frame(f);
                        }
                        Err(e) => {
                            on_error(e);
                            break;
                        }
                    }
                }
                let _ = cam.stop_stream();
            })
            .map_err(|e| Error::internal(format!("spawn camera thread: {e}")))?;
        match opened_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {
                self.thread = Some(thread);
                Ok(want)
            }
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                self.stop.store(true, Ordering::Relaxed);
                Err(Error::new(
                    ErrorKind::DeviceUnavailable,
                    format!("camera {index} did not open within 10 s"),
                ))
            }
        }
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // A camera read blocks until the next frame; a stalled camera must
            // not hang the caller, so wait a bounded time and then let the
            // thread finish on its own.
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            while !t.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for CameraSource {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_camera_opening_fails_with_no_device() {
        // This test documents the machine it runs on: CI has no V4L2 devices.
        if !list_cameras().unwrap().is_empty() {
            return;
        }
        let mut cam = CameraSource::new(
            0,
            VideoFormat {
                width: 640,
                height: 360,
                fps: 30,
            },
            Clock::new(),
        );
        let err = cam.start(Box::new(|_| {}), Arc::new(|_| {})).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NoDevice, "{err}");
        assert!(err.message().contains("no camera"), "{err}");
    }
}
