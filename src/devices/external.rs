//! Video the host captures itself (CameraX / Camera2, AVCaptureSession, a
//! screen or any custom source) and pushes into the engine: I420, NV12 or
//! NV21 planes with their strides, a rotation and a capture time. Converts
//! each pushed frame to packed, upright I420 and hands it to the running
//! video stage as if a camera had produced it.
//!
//! Owns only the conversion and the hand-over slot; encoding, dropping
//! frames the encoder cannot keep up with, and sizing are the video
//! stage's.

use std::sync::{Arc, Mutex};

use super::video::{FrameCallback, VideoFormat, VideoInput};
use super::ErrorCallback;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::frame::VideoFrame;

/// How a pushed frame's pixels are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// Three planes: Y, U (Cb), V (Cr); chroma at half width and height.
    I420,
    /// Two planes: Y, then U and V interleaved (U first): Android's
    /// `YUV_420_888` with pixel stride 2 and iOS's
    /// `kCVPixelFormatType_420YpCbCr8BiPlanar*`.
    Nv12,
    /// Two planes: Y, then V and U interleaved (V first): Android's camera
    /// default (`ImageFormat.NV21`).
    Nv21,
}

/// One frame as the host hands it over. Planes are borrowed for the call.
#[derive(Debug, Clone, Copy)]
pub struct PushedFrame<'a> {
    pub format: PixelFormat,
    /// Size of the pixels as stored, before rotation. Both even.
    pub width: u32,
    pub height: u32,
    /// Y, then U (I420) or the interleaved chroma (NV12 / NV21), then V
    /// (I420 only; ignored otherwise).
    pub planes: [&'a [u8]; 3],
    /// Bytes from one row to the next in each plane.
    pub strides: [usize; 3],
    /// Clockwise rotation that makes the picture upright: 0, 90, 180 or
    /// 270 (a phone's sensor orientation). 90 and 270 swap width and height.
    pub rotation: u32,
    /// When the frame was captured, in microseconds on any monotonic clock
    /// of the host's (only differences between frames count); `None`: now.
    pub timestamp_us: Option<u64>,
}

impl PushedFrame<'_> {
    /// Width and height once rotated upright.
    pub fn upright_size(&self) -> (u32, u32) {
        if self.rotation % 180 == 90 {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        }
    }

    /// Checks sizes, strides, rotation and that every plane holds the rows
    /// its stride and height promise.
    pub fn check(&self) -> Result<()> {
        let (w, h) = (self.width as usize, self.height as usize);
        if w == 0 || h == 0 || w % 2 != 0 || h % 2 != 0 {
            return Err(Error::invalid_argument(format!(
                "pushed frame {}x{}: width and height must be even and non-zero",
                self.width, self.height
            )));
        }
        if !matches!(self.rotation, 0 | 90 | 180 | 270) {
            return Err(Error::invalid_argument(format!(
                "rotation {} is not 0, 90, 180 or 270",
                self.rotation
            )));
        }
        let (cw, ch) = (w / 2, h / 2);
        let chroma_row = match self.format {
            PixelFormat::I420 => cw,
            PixelFormat::Nv12 | PixelFormat::Nv21 => 2 * cw,
        };
        let mut needs = vec![(0, w, h)];
        needs.push((1, chroma_row, ch));
        if self.format == PixelFormat::I420 {
            needs.push((2, cw, ch));
        }
        for (i, row, rows) in needs {
            let stride = self.strides[i];
            if stride < row {
                return Err(Error::invalid_argument(format!(
                    "plane {i}: stride {stride} is shorter than a row ({row} bytes)"
                )));
            }
            let len = stride * (rows - 1) + row;
            if self.planes[i].len() < len {
                return Err(Error::invalid_argument(format!(
                    "plane {i}: {} bytes, the frame needs {len}",
                    self.planes[i].len()
                )));
            }
        }
        Ok(())
    }

    /// The frame as packed, upright I420 (checked first).
    pub fn to_i420(&self, capture_us: u64) -> Result<VideoFrame> {
        self.check()?;
        let (w, h) = (self.width as usize, self.height as usize);
        let (ow, oh) = self.upright_size();
        let mut out = vec![0u8; VideoFrame::i420_len(ow, oh)];
        let (oy, oc) = out.split_at_mut(ow as usize * oh as usize);
        let (ou, ov) = oc.split_at_mut(oc.len() / 2);
        let y = self.planes[0];
        let ys = self.strides[0];
        rotate_plane(w, h, self.rotation, oy, |x, r| y[r * ys + x]);
        let (cw, ch) = (w / 2, h / 2);
        let (c1, s1, c2, s2) = (
            self.planes[1],
            self.strides[1],
            self.planes[2],
            self.strides[2],
        );
        match self.format {
            PixelFormat::I420 => {
                rotate_plane(cw, ch, self.rotation, ou, |x, r| c1[r * s1 + x]);
                rotate_plane(cw, ch, self.rotation, ov, |x, r| c2[r * s2 + x]);
            }
            PixelFormat::Nv12 => {
                rotate_plane(cw, ch, self.rotation, ou, |x, r| c1[r * s1 + 2 * x]);
                rotate_plane(cw, ch, self.rotation, ov, |x, r| c1[r * s1 + 2 * x + 1]);
            }
            PixelFormat::Nv21 => {
                rotate_plane(cw, ch, self.rotation, ou, |x, r| c1[r * s1 + 2 * x + 1]);
                rotate_plane(cw, ch, self.rotation, ov, |x, r| c1[r * s1 + 2 * x]);
            }
        }
        Ok(VideoFrame::new(ow, oh, out, capture_us))
    }
}

/// Fills `out` (packed, upright) from a `w` x `h` source read through
/// `at(x, row)`, rotated clockwise by `rotation`.
fn rotate_plane(
    w: usize,
    h: usize,
    rotation: u32,
    out: &mut [u8],
    at: impl Fn(usize, usize) -> u8,
) {
    match rotation {
        90 => {
            // Output is h wide: its row y is source column y, read bottom-up.
            for (oy, row) in out.chunks_exact_mut(h).enumerate() {
                for (ox, p) in row.iter_mut().enumerate() {
                    *p = at(oy, h - 1 - ox);
                }
            }
        }
        180 => {
            for (oy, row) in out.chunks_exact_mut(w).enumerate() {
                for (ox, p) in row.iter_mut().enumerate() {
                    *p = at(w - 1 - ox, h - 1 - oy);
                }
            }
        }
        270 => {
            for (oy, row) in out.chunks_exact_mut(h).enumerate() {
                for (ox, p) in row.iter_mut().enumerate() {
                    *p = at(w - 1 - oy, ox);
                }
            }
        }
        _ => {
            for (oy, row) in out.chunks_exact_mut(w).enumerate() {
                for (ox, p) in row.iter_mut().enumerate() {
                    *p = at(ox, oy);
                }
            }
        }
    }
}

/// Where pushed frames go: the running video stage's frame callback, if
/// any. Shared between the engine (which pushes) and the
/// [`ExternalVideoInput`] the video stage starts and stops.
#[derive(Default)]
pub struct ExternalVideo {
    sink: Mutex<Option<FrameCallback>>,
    /// Engine clock minus host clock, fixed by the first timestamped frame
    /// of a run, so that the host's frame spacing is kept.
    offset_us: Mutex<Option<i64>>,
}

impl ExternalVideo {
    /// Converts `frame` and hands it to the video stage. `Ok(false)` when
    /// no video stage runs (the frame is discarded); errors for a frame
    /// that does not hold what it claims.
    pub fn push(&self, frame: &PushedFrame<'_>, clock: &Clock) -> Result<bool> {
        // Converted (and checked) before the stage's slot is locked.
        let mut upright = frame.to_i420(0)?;
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        let Some(deliver) = sink.as_mut() else {
            return Ok(false);
        };
        let now = clock.now_us();
        upright.capture_us = match frame.timestamp_us {
            None => now,
            Some(ts) => {
                let mut offset = self.offset_us.lock().unwrap_or_else(|p| p.into_inner());
                let offset = *offset.get_or_insert(now as i64 - ts as i64);
                // Never in the future (a host clock that jumped).
                (ts as i64 + offset).clamp(0, now as i64) as u64
            }
        };
        deliver(upright);
        Ok(true)
    }

    fn attach(&self, sink: Option<FrameCallback>) {
        *self.sink.lock().unwrap_or_else(|p| p.into_inner()) = sink;
        *self.offset_us.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// The [`VideoInput`] of [`crate::VideoInputConfig::External`]: it opens
/// nothing; while started, frames pushed through [`ExternalVideo`] reach
/// the video stage.
pub struct ExternalVideoInput {
    shared: Arc<ExternalVideo>,
    format: VideoFormat,
}

impl ExternalVideoInput {
    pub fn new(shared: Arc<ExternalVideo>, format: VideoFormat) -> Self {
        ExternalVideoInput { shared, format }
    }
}

impl VideoInput for ExternalVideoInput {
    fn start(&mut self, on_frame: FrameCallback, _on_error: ErrorCallback) -> Result<VideoFormat> {
        self.shared.attach(Some(on_frame));
        Ok(self.format)
    }

    fn stop(&mut self) {
        self.shared.attach(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4x2 picture whose Y values say where they are: 10 * row + column.
    fn y_grid(w: usize, h: usize, stride: usize) -> Vec<u8> {
        let mut y = vec![0xEE; stride * h];
        for r in 0..h {
            for c in 0..w {
                y[r * stride + c] = (10 * r + c) as u8;
            }
        }
        y
    }

    fn frame<'a>(
        format: PixelFormat,
        y: &'a [u8],
        c1: &'a [u8],
        c2: &'a [u8],
        strides: [usize; 3],
        rotation: u32,
    ) -> PushedFrame<'a> {
        PushedFrame {
            format,
            width: 4,
            height: 2,
            planes: [y, c1, c2],
            strides,
            rotation,
            timestamp_us: None,
        }
    }

    #[test]
    fn rotations_turn_the_picture_clockwise() {
        // Source (Y):  0  1  2  3
        //             10 11 12 13
        let y = y_grid(4, 2, 6);
        let (u, v) = ([1u8, 2, 0xEE], [3u8, 4, 0xEE]);
        let f = |r| {
            frame(PixelFormat::I420, &y, &u, &v, [6, 3, 3], r)
                .to_i420(0)
                .unwrap()
        };
        assert_eq!(f(0).y(), &[0, 1, 2, 3, 10, 11, 12, 13]);
        let r90 = f(90);
        assert_eq!((r90.width, r90.height), (2, 4));
        assert_eq!(r90.y(), &[10, 0, 11, 1, 12, 2, 13, 3]);
        assert_eq!(f(180).y(), &[13, 12, 11, 10, 3, 2, 1, 0]);
        let r270 = f(270);
        assert_eq!(r270.y(), &[3, 13, 2, 12, 1, 11, 0, 10]);
        // Chroma (2x1) turns with it.
        assert_eq!((r90.u(), r90.v()), (&[1u8, 2][..], &[3u8, 4][..]));
        assert_eq!((f(180).u(), f(180).v()), (&[2u8, 1][..], &[4u8, 3][..]));
    }

    #[test]
    fn nv12_and_nv21_deinterleave_their_chroma() {
        let y = y_grid(4, 2, 4);
        let uv = [1u8, 3, 2, 4]; // U V U V
        let nv12 = frame(PixelFormat::Nv12, &y, &uv, &[], [4, 4, 0], 0)
            .to_i420(0)
            .unwrap();
        assert_eq!((nv12.u(), nv12.v()), (&[1u8, 2][..], &[3u8, 4][..]));
        let nv21 = frame(PixelFormat::Nv21, &y, &uv, &[], [4, 4, 0], 0)
            .to_i420(0)
            .unwrap();
        assert_eq!((nv21.u(), nv21.v()), (&[3u8, 4][..], &[1u8, 2][..]));
        assert_eq!(nv12.y(), &[0, 1, 2, 3, 10, 11, 12, 13]);
    }

    #[test]
    fn frames_that_do_not_hold_what_they_claim_are_refused() {
        let y = y_grid(4, 2, 4);
        let uv = [0u8; 4];
        let ok = frame(PixelFormat::Nv12, &y, &uv, &[], [4, 4, 0], 0);
        assert!(ok.check().is_ok());
        for bad in [
            PushedFrame { width: 3, ..ok },
            PushedFrame { height: 0, ..ok },
            PushedFrame { rotation: 45, ..ok },
            PushedFrame {
                strides: [3, 4, 0],
                ..ok
            },
            PushedFrame {
                strides: [8, 4, 0],
                ..ok
            },
            PushedFrame {
                planes: [&y[..7], &uv, &[]],
                ..ok
            },
            PushedFrame {
                planes: [&y, &uv[..3], &[]],
                ..ok
            },
            PushedFrame {
                format: PixelFormat::I420,
                ..ok
            },
        ] {
            let e = bad.check().unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidArgument, "{bad:?}");
        }
    }

    #[test]
    fn pushes_reach_the_running_stage_with_the_hosts_frame_spacing() {
        let clock = Clock::new();
        let shared = Arc::new(ExternalVideo::default());
        let (y, uv) = (y_grid(4, 2, 4), [0u8; 4]);
        let mut f = frame(PixelFormat::Nv12, &y, &uv, &[], [4, 4, 0], 0);
        assert!(!shared.push(&f, &clock).unwrap(), "nothing runs yet");
        let got = Arc::new(Mutex::new(Vec::new()));
        let mut input = ExternalVideoInput::new(
            shared.clone(),
            VideoFormat {
                width: 4,
                height: 2,
                fps: 30,
            },
        );
        let g = got.clone();
        input
            .start(
                Box::new(move |frame| g.lock().unwrap().push(frame.capture_us)),
                Arc::new(|_| {}),
            )
            .unwrap();
        f.timestamp_us = Some(1_000_000_000);
        assert!(shared.push(&f, &clock).unwrap());
        f.timestamp_us = Some(1_000_000_000 - 40_000);
        assert!(shared.push(&f, &clock).unwrap());
        let times = got.lock().unwrap().clone();
        assert_eq!(times.len(), 2);
        // The second frame was captured 40 ms before the first, as the host
        // said (clamped at the engine clock's start).
        assert_eq!(times[1], times[0].saturating_sub(40_000), "{times:?}");
        input.stop();
        assert!(!shared.push(&f, &clock).unwrap(), "stopped");
    }
}
