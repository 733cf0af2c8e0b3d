//! A moving video test pattern that carries its own frame number and capture
//! timestamp in a band of large black/white blocks at the top of the picture.
//! The blocks survive lossy coding, so a receiver can read them back after
//! decoding ([`read_stamp`]) and regenerate the exact source frame
//! ([`render`]) to measure quality and latency end to end.

/// Block edge in luma pixels. Large enough to survive H.264 at low rates.
pub const BLOCK: usize = 16;
const MAGIC: u64 = 0xA5;
const BITS: usize = 8 + 32 + 48 + 8;
const BLACK: u8 = 16;
const WHITE: u8 = 235;

/// What a pattern frame carries in its code band.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub frame_number: u32,
    /// Capture time in microseconds (48 bits are kept).
    pub capture_us: u64,
}

/// Rows of blocks the code band occupies for a given width.
fn code_rows(width: usize) -> usize {
    let per_row = (width / BLOCK).max(1);
    BITS.div_ceil(per_row)
}

/// Whether the pattern can be drawn at this size (even sizes, at least
/// 256x144 or so: the code band must fit with room to spare).
pub fn supports(width: u32, height: u32) -> bool {
    let (w, h) = (width as usize, height as usize);
    w >= 8 * BLOCK && w % 2 == 0 && h % 2 == 0 && h >= (code_rows(w) + 2) * BLOCK
}

fn crc8(v: u128, nbits: usize) -> u8 {
    // CRC-8/ATM over the low `nbits` bits, most significant first.
    let mut crc: u8 = 0;
    for i in (0..nbits).rev() {
        let bit = ((v >> i) & 1) as u8;
        let top = (crc >> 7) ^ bit;
        crc <<= 1;
        if top == 1 {
            crc ^= 0x07;
        }
    }
    crc
}

fn stamp_bits(stamp: Stamp) -> [bool; BITS] {
    let payload =
        ((stamp.frame_number as u128) << 48) | (stamp.capture_us & 0xFFFF_FFFF_FFFF) as u128;
    let crc = crc8(payload, 80);
    let mut bits = [false; BITS];
    let mut k = 0;
    let mut put = |value: u64, n: usize| {
        for i in (0..n).rev() {
            bits[k] = (value >> i) & 1 == 1;
            k += 1;
        }
    };
    put(MAGIC, 8);
    put(stamp.frame_number as u64, 32);
    put(stamp.capture_us & 0xFFFF_FFFF_FFFF, 48);
    put(crc as u64, 8);
    bits
}

/// Draws frame `stamp.frame_number` into `out` (packed I420, `width` x
/// `height`). The picture depends only on its arguments.
///
/// # Panics
/// If `out` has the wrong length or the size is not [`supports`]ed.
pub fn render(width: u32, height: u32, stamp: Stamp, out: &mut [u8]) {
    assert!(
        supports(width, height),
        "pattern needs even sizes of at least 256x144"
    );
    let (w, h) = (width as usize, height as usize);
    let (cw, ch) = (w / 2, h / 2);
    assert_eq!(out.len(), w * h + 2 * cw * ch, "I420 buffer length");
    let (y_plane, chroma) = out.split_at_mut(w * h);
    let (u_plane, v_plane) = chroma.split_at_mut(cw * ch);
    let n = stamp.frame_number as usize;
    let band = code_rows(w) * BLOCK;

    // Background: a triangle-wave luma ramp drifting right 4 px per frame,
    // with a gentle vertical shading; static chroma gradients.
    let shift = n * 4;
    for y in band..h {
        let row = &mut y_plane[y * w..(y + 1) * w];
        let shade = (y * 32 / h) as i32;
        for (x, px) in row.iter_mut().enumerate() {
            let phase = (x + shift) % 512;
            let tri = if phase < 256 { phase } else { 511 - phase } as i32;
            *px = (24 + tri * 180 / 255 + shade) as u8;
        }
    }
    for y in 0..ch {
        for x in 0..cw {
            u_plane[y * cw + x] = (96 + x * 64 / cw) as u8;
            v_plane[y * cw + x] = (96 + y * 64 / ch) as u8;
        }
    }

    // A box bouncing horizontally, a third of the height.
    let side = ((h - band) / 3).max(BLOCK) & !1;
    let travel = w - side;
    let period = 2 * travel;
    let pos = (n * 6) % period;
    let bx = if pos < travel { pos } else { period - pos } & !1;
    let by = (band + (h - band - side) / 2) & !1;
    for y in by..by + side {
        y_plane[y * w + bx..y * w + bx + side].fill(200);
    }
    for y in by / 2..(by + side) / 2 {
        u_plane[y * cw + bx / 2..y * cw + (bx + side) / 2].fill(80);
        v_plane[y * cw + bx / 2..y * cw + (bx + side) / 2].fill(170);
    }

    // Code band.
    let bits = stamp_bits(stamp);
    let per_row = w / BLOCK;
    for y in 0..band {
        let row = &mut y_plane[y * w..(y + 1) * w];
        for (bx, chunk) in row.chunks_mut(BLOCK).enumerate() {
            let k = (y / BLOCK) * per_row + bx;
            let on = k < BITS && chunk.len() == BLOCK && bits[k];
            chunk.fill(if on { WHITE } else { BLACK });
        }
    }
    for y in 0..band / 2 {
        u_plane[y * cw..(y + 1) * cw].fill(128);
        v_plane[y * cw..(y + 1) * cw].fill(128);
    }
}

/// Reads the stamp back from a (possibly lossy-coded) luma plane. `None` when
/// the band does not decode with a valid checksum.
pub fn read_stamp(width: u32, height: u32, y_plane: &[u8], y_stride: usize) -> Option<Stamp> {
    if !supports(width, height) || y_stride < width as usize {
        return None;
    }
    let w = width as usize;
    let per_row = w / BLOCK;
    let mut bits = [false; BITS];
    for (k, bit) in bits.iter_mut().enumerate() {
        let (by, bx) = (k / per_row, k % per_row);
        let (x0, y0) = (bx * BLOCK + BLOCK / 4, by * BLOCK + BLOCK / 4);
        let mut sum = 0u32;
        for y in y0..y0 + BLOCK / 2 {
            let row = y_plane.get(y * y_stride + x0..y * y_stride + x0 + BLOCK / 2)?;
            sum += row.iter().map(|&p| p as u32).sum::<u32>();
        }
        *bit = sum / (BLOCK as u32 * BLOCK as u32 / 4) > 125;
    }
    let mut k = 0;
    let mut take = |n: usize| {
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | bits[k] as u64;
            k += 1;
        }
        v
    };
    let magic = take(8);
    let frame_number = take(32) as u32;
    let capture_us = take(48);
    let crc = take(8) as u8;
    let payload = ((frame_number as u128) << 48) | capture_us as u128;
    (magic == MAGIC && crc == crc8(payload, 80)).then_some(Stamp {
        frame_number,
        capture_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips_at_common_sizes() {
        for &(w, h) in &[(1280u32, 720u32), (640, 360), (320, 180), (256, 144)] {
            let mut buf = vec![0u8; crate::frame::VideoFrame::i420_len(w, h)];
            let stamp = Stamp {
                frame_number: 123_456,
                capture_us: 0x00DE_ADBE_EF42,
            };
            render(w, h, stamp, &mut buf);
            assert_eq!(read_stamp(w, h, &buf, w as usize), Some(stamp), "{w}x{h}");
        }
    }

    #[test]
    fn stamp_survives_noise_and_rejects_garbage() {
        let (w, h) = (640u32, 360u32);
        let mut buf = vec![0u8; crate::frame::VideoFrame::i420_len(w, h)];
        let stamp = Stamp {
            frame_number: 7,
            capture_us: 1_000_000,
        };
        render(w, h, stamp, &mut buf);
        let mut rng = fastrand::Rng::with_seed(1);
        for p in buf.iter_mut() {
            *p = (*p as i32 + rng.i32(-40..=40)).clamp(0, 255) as u8;
        }
        assert_eq!(read_stamp(w, h, &buf, w as usize), Some(stamp));
        let noise: Vec<u8> = (0..buf.len()).map(|_| rng.u8(..)).collect();
        assert_eq!(read_stamp(w, h, &noise, w as usize), None);
    }

    #[test]
    fn frames_differ_and_are_deterministic() {
        let (w, h) = (320u32, 180u32);
        let len = crate::frame::VideoFrame::i420_len(w, h);
        let (mut a, mut b, mut c) = (vec![0; len], vec![0; len], vec![0; len]);
        render(
            w,
            h,
            Stamp {
                frame_number: 1,
                capture_us: 5,
            },
            &mut a,
        );
        render(
            w,
            h,
            Stamp {
                frame_number: 1,
                capture_us: 5,
            },
            &mut b,
        );
        render(
            w,
            h,
            Stamp {
                frame_number: 2,
                capture_us: 5,
            },
            &mut c,
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
