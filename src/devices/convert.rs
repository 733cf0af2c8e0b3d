//! Pixel format conversion into packed I420, for what cameras hand out.
//! BT.601 limited range, chroma subsampled by averaging 2x2 blocks.

use crate::error::{Error, Result};
use crate::frame::VideoFrame;

/// Raw layouts a camera can deliver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelFormat {
    /// Packed 4:2:2, Y0 U Y1 V.
    Yuyv,
    /// Y plane, then interleaved UV at half resolution.
    Nv12,
    /// Packed 8-bit R, G, B.
    Rgb24,
    /// 8-bit luma only.
    Gray,
    /// Already I420.
    I420,
}

fn check(len: usize, need: usize, what: &str) -> Result<()> {
    if len < need {
        return Err(Error::invalid_argument(format!(
            "{what} buffer has {len} bytes, needs {need}"
        )));
    }
    Ok(())
}

/// Converts one frame of `format` to packed I420. Odd sizes are cropped to even.
pub fn to_i420(format: PixelFormat, width: u32, height: u32, src: &[u8]) -> Result<Vec<u8>> {
    let (w, h) = ((width & !1) as usize, (height & !1) as usize);
    let (sw, sh) = (width as usize, height as usize);
    if w == 0 || h == 0 {
        return Err(Error::invalid_argument("frame has zero size"));
    }
    let mut out = vec![0u8; VideoFrame::i420_len(w as u32, h as u32)];
    let (yp, chroma) = out.split_at_mut(w * h);
    let (up, vp) = chroma.split_at_mut((w / 2) * (h / 2));
    let cw = w / 2;
    match format {
        PixelFormat::I420 => {
            check(src.len(), VideoFrame::i420_len(width, height), "I420")?;
            let (scw, sch) = (sw / 2, sh / 2);
            for y in 0..h {
                yp[y * w..(y + 1) * w].copy_from_slice(&src[y * sw..y * sw + w]);
            }
            let (su, sv) = (sw * sh, sw * sh + scw * sch);
            for y in 0..h / 2 {
                up[y * cw..(y + 1) * cw].copy_from_slice(&src[su + y * scw..su + y * scw + cw]);
                vp[y * cw..(y + 1) * cw].copy_from_slice(&src[sv + y * scw..sv + y * scw + cw]);
            }
        }
        PixelFormat::Yuyv => {
            check(src.len(), sw * sh * 2, "YUYV")?;
            for y in 0..h {
                let row = &src[y * sw * 2..];
                for x in 0..w {
                    yp[y * w + x] = row[x * 2];
                }
            }
            for y in 0..h / 2 {
                let (r0, r1) = (&src[2 * y * sw * 2..], &src[(2 * y + 1) * sw * 2..]);
                for x in 0..cw {
                    let i = x * 4;
                    up[y * cw + x] = (r0[i + 1] as u16 + r1[i + 1] as u16).div_ceil(2) as u8;
                    vp[y * cw + x] = (r0[i + 3] as u16 + r1[i + 3] as u16).div_ceil(2) as u8;
                }
            }
        }
        PixelFormat::Nv12 => {
            check(src.len(), sw * sh + sw * (sh / 2), "NV12")?;
            for y in 0..h {
                yp[y * w..(y + 1) * w].copy_from_slice(&src[y * sw..y * sw + w]);
            }
            let uv = &src[sw * sh..];
            for y in 0..h / 2 {
                for x in 0..cw {
                    up[y * cw + x] = uv[y * sw + 2 * x];
                    vp[y * cw + x] = uv[y * sw + 2 * x + 1];
                }
            }
        }
        PixelFormat::Gray => {
            check(src.len(), sw * sh, "gray")?;
            for y in 0..h {
                yp[y * w..(y + 1) * w].copy_from_slice(&src[y * sw..y * sw + w]);
            }
            up.fill(128);
            vp.fill(128);
        }
        PixelFormat::Rgb24 => {
            check(src.len(), sw * sh * 3, "RGB")?;
            let px = |x: usize, y: usize| {
                let i = (y * sw + x) * 3;
                (src[i] as i32, src[i + 1] as i32, src[i + 2] as i32)
            };
            for y in 0..h {
                for x in 0..w {
                    let (r, g, b) = px(x, y);
                    yp[y * w + x] = (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8;
                }
            }
            for y in 0..h / 2 {
                for x in 0..cw {
                    let mut acc = (0, 0, 0);
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        let (r, g, b) = px(2 * x + dx, 2 * y + dy);
                        acc = (acc.0 + r, acc.1 + g, acc.2 + b);
                    }
                    let (r, g, b) = ((acc.0 + 2) / 4, (acc.1 + 2) / 4, (acc.2 + 2) / 4);
                    up[y * cw + x] =
                        (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
                    vp[y * cw + x] =
                        (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
                }
            }
        }
    }
    Ok(out)
}

/// Scales a frame to `width` x `height` (both even) with bilinear filtering.
/// Returns the frame unchanged when it already has that size.
pub fn scale(frame: &VideoFrame, width: u32, height: u32) -> VideoFrame {
    if (frame.width, frame.height) == (width, height) {
        return frame.clone();
    }
    let mut out = vec![0u8; VideoFrame::i420_len(width, height)];
    let (dy, dc) = out.split_at_mut((width * height) as usize);
    let (du, dv) = dc.split_at_mut(((width / 2) * (height / 2)) as usize);
    scale_plane(
        frame.y(),
        frame.width as usize,
        frame.height as usize,
        dy,
        width as usize,
        height as usize,
    );
    let (sw, sh, dw, dh) = (
        frame.width as usize / 2,
        frame.height as usize / 2,
        width as usize / 2,
        height as usize / 2,
    );
    scale_plane(frame.u(), sw, sh, du, dw, dh);
    scale_plane(frame.v(), sw, sh, dv, dw, dh);
    VideoFrame::new(width, height, out, frame.capture_us)
}

fn scale_plane(src: &[u8], sw: usize, sh: usize, dst: &mut [u8], dw: usize, dh: usize) {
    if sw == 0 || sh == 0 {
        return;
    }
    // 16.16 fixed point, pixel centres aligned.
    let fx = ((sw as u64) << 16) / dw as u64;
    let fy = ((sh as u64) << 16) / dh as u64;
    for y in 0..dh {
        let sy = ((y as u64 * fy + fy / 2).saturating_sub(1 << 15)).min(((sh - 1) as u64) << 16);
        let (y0, wy) = ((sy >> 16) as usize, (sy & 0xffff) as u32);
        let y1 = (y0 + 1).min(sh - 1);
        for x in 0..dw {
            let sx =
                ((x as u64 * fx + fx / 2).saturating_sub(1 << 15)).min(((sw - 1) as u64) << 16);
            let (x0, wx) = ((sx >> 16) as usize, (sx & 0xffff) as u32);
            let x1 = (x0 + 1).min(sw - 1);
            let p = |xx: usize, yy: usize| src[yy * sw + xx] as u32;
            let top = p(x0, y0) * (65536 - wx) + p(x1, y0) * wx;
            let bot = p(x0, y1) * (65536 - wx) + p(x1, y1) * wx;
            let v = ((top as u64 >> 8) * (65536 - wy) as u64 + (bot as u64 >> 8) * wy as u64) >> 24;
            dst[y * dw + x] = v.min(255) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuyv_and_nv12_keep_luma_and_average_chroma() {
        let (w, h) = (4u32, 2u32);
        // YUYV: two rows of Y0 U Y1 V.
        let yuyv = [
            10, 100, 20, 200, 30, 102, 40, 202, 50, 110, 60, 210, 70, 112, 80, 212,
        ];
        let out = to_i420(PixelFormat::Yuyv, w, h, &yuyv).unwrap();
        assert_eq!(&out[..8], &[10, 20, 30, 40, 50, 60, 70, 80]);
        assert_eq!(&out[8..10], &[105, 107]);
        assert_eq!(&out[10..12], &[205, 207]);
        let nv12 = [1, 2, 3, 4, 5, 6, 7, 8, 100, 200, 101, 201];
        let out = to_i420(PixelFormat::Nv12, w, h, &nv12).unwrap();
        assert_eq!(out, vec![1, 2, 3, 4, 5, 6, 7, 8, 100, 101, 200, 201]);
    }

    #[test]
    fn rgb_primaries_map_to_bt601() {
        let white = [255u8; 2 * 2 * 3];
        let out = to_i420(PixelFormat::Rgb24, 2, 2, &white).unwrap();
        assert_eq!(out[0], 235);
        assert_eq!((out[4], out[5]), (128, 128));
        let red: Vec<u8> = [255u8, 0, 0].repeat(4);
        let out = to_i420(PixelFormat::Rgb24, 2, 2, &red).unwrap();
        assert_eq!(out[0], 82);
        assert_eq!(out[5], 240);
    }

    #[test]
    fn scaling_keeps_flat_areas_and_sizes() {
        let src = VideoFrame::new(64, 32, vec![100; VideoFrame::i420_len(64, 32)], 7);
        let out = scale(&src, 32, 16);
        assert_eq!((out.width, out.height, out.capture_us), (32, 16, 7));
        assert!(out.data.iter().all(|&p| p == 100));
        let up = scale(&src, 128, 96);
        assert_eq!(up.data.len(), VideoFrame::i420_len(128, 96));
        assert!(up.data.iter().all(|&p| p == 100));
    }

    #[test]
    fn short_buffers_are_errors_not_panics() {
        for f in [
            PixelFormat::Yuyv,
            PixelFormat::Nv12,
            PixelFormat::Rgb24,
            PixelFormat::Gray,
            PixelFormat::I420,
        ] {
            assert!(to_i420(f, 640, 480, &[0u8; 100]).is_err());
        }
        assert!(to_i420(PixelFormat::Gray, 0, 0, &[]).is_err());
    }
}
