//! The caller's window: remote video large (a grid when a channel has
//! several members), the local preview small in the bottom-right corner,
//! and an overlay with the call state and network figures in the
//! bottom-left. Frames arrive on the engine's render thread and are kept in
//! a [`Screen`]; the window itself lives on the main thread (X11, loaded at
//! run time, so the caller runs headless where there is no display).

use std::collections::BTreeMap;
use std::sync::Mutex;

use font8x8::UnicodeFonts;
use media::{FrameSource, VideoFrame};
use minifb::{Key, Window, WindowOptions};

pub const WIDTH: usize = 960;
pub const HEIGHT: usize = 540;
const PREVIEW: (usize, usize) = (240, 135);
const MARGIN: usize = 10;
const TEXT_SCALE: usize = 2;

/// The latest frame of each source, shared with the render thread.
#[derive(Default)]
pub struct Screen {
    local: Mutex<Option<VideoFrame>>,
    remotes: Mutex<BTreeMap<u32, VideoFrame>>,
}

impl Screen {
    /// Keeps `frame` as the latest of `source` (the pixels are shared).
    pub fn put(&self, source: FrameSource, frame: &VideoFrame) {
        match source {
            FrameSource::Local => *self.local.lock().unwrap() = Some(frame.clone()),
            FrameSource::Remote(uid) => {
                self.remotes.lock().unwrap().insert(uid, frame.clone());
            }
        }
    }

    /// A remote left: stop showing it.
    pub fn forget(&self, uid: u32) {
        self.remotes.lock().unwrap().remove(&uid);
    }
}

pub struct CallWindow {
    window: Window,
    pixels: Vec<u32>,
}

impl CallWindow {
    pub fn open(title: &str) -> Result<CallWindow, String> {
        let window = Window::new(title, WIDTH, HEIGHT, WindowOptions::default())
            .map_err(|e| e.to_string())?;
        Ok(CallWindow {
            window,
            pixels: vec![0; WIDTH * HEIGHT],
        })
    }

    /// False once the user closed the window or pressed Escape.
    pub fn is_open(&self) -> bool {
        self.window.is_open() && !self.window.is_key_down(Key::Escape)
    }

    /// Draws the latest frames and the overlay lines, and shows them.
    pub fn draw(&mut self, screen: &Screen, overlay: &[String]) -> Result<(), String> {
        self.pixels.fill(0x0010_1010);
        let remotes: Vec<VideoFrame> = screen.remotes.lock().unwrap().values().cloned().collect();
        let cells = grid(remotes.len());
        for (frame, cell) in remotes.iter().zip(cells) {
            blit(&mut self.pixels, frame, fit(frame, cell));
        }
        if remotes.is_empty() {
            text(&mut self.pixels, "waiting for video", 20, 20, 0x00a0_a0a0);
        }
        if let Some(local) = screen.local.lock().unwrap().clone() {
            let cell = Rect {
                x: WIDTH - PREVIEW.0 - MARGIN,
                y: HEIGHT - PREVIEW.1 - MARGIN,
                w: PREVIEW.0,
                h: PREVIEW.1,
            };
            fill(&mut self.pixels, cell, 0);
            blit(&mut self.pixels, &local, fit(&local, cell));
        }
        let line_h = 8 * TEXT_SCALE + 4;
        let top = HEIGHT - MARGIN - overlay.len() * line_h;
        let widest = overlay.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        if widest > 0 {
            shade(
                &mut self.pixels,
                Rect {
                    x: MARGIN - 4,
                    y: top - 4,
                    w: widest * 8 * TEXT_SCALE + 8,
                    h: overlay.len() * line_h + 4,
                },
            );
        }
        for (i, line) in overlay.iter().enumerate() {
            text(
                &mut self.pixels,
                line,
                MARGIN,
                top + i * line_h,
                0x00ff_ffff,
            );
        }
        self.window
            .update_with_buffer(&self.pixels, WIDTH, HEIGHT)
            .map_err(|e| e.to_string())
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Rect {
    x: usize,
    y: usize,
    w: usize,
    h: usize,
}

/// Cells for `n` remote videos: the whole window, two halves, or a 2x2 grid.
fn grid(n: usize) -> Vec<Rect> {
    let (cols, rows) = match n {
        0 | 1 => (1, 1),
        2 => (2, 1),
        _ => (2, n.div_ceil(2)),
    };
    let (w, h) = (WIDTH / cols, HEIGHT / rows);
    (0..n)
        .map(|i| Rect {
            x: (i % cols) * w,
            y: (i / cols) * h,
            w,
            h,
        })
        .collect()
}

/// The largest rectangle of the frame's aspect ratio centred in `cell`.
fn fit(frame: &VideoFrame, cell: Rect) -> Rect {
    let (fw, fh) = (frame.width.max(1) as usize, frame.height.max(1) as usize);
    let (w, h) = if cell.w * fh <= cell.h * fw {
        (cell.w, cell.w * fh / fw)
    } else {
        (cell.h * fw / fh, cell.h)
    };
    Rect {
        x: cell.x + (cell.w - w) / 2,
        y: cell.y + (cell.h - h) / 2,
        w,
        h,
    }
}

/// Scales an I420 frame into `dst` (nearest neighbour, BT.601 limited range).
fn blit(pixels: &mut [u32], frame: &VideoFrame, dst: Rect) {
    let (fw, fh) = (frame.width as usize, frame.height as usize);
    if fw == 0 || fh == 0 || dst.w == 0 || dst.h == 0 {
        return;
    }
    let (y_plane, u_plane, v_plane) = (frame.y(), frame.u(), frame.v());
    let (ys, cs) = (frame.y_stride(), frame.chroma_stride());
    for dy in 0..dst.h {
        let sy = dy * fh / dst.h;
        let row = &mut pixels[(dst.y + dy) * WIDTH + dst.x..][..dst.w];
        for (dx, px) in row.iter_mut().enumerate() {
            let sx = dx * fw / dst.w;
            let y = y_plane[sy * ys + sx] as i32 - 16;
            let u = u_plane[(sy / 2) * cs + sx / 2] as i32 - 128;
            let v = v_plane[(sy / 2) * cs + sx / 2] as i32 - 128;
            let c = 298 * y;
            let r = ((c + 409 * v + 128) >> 8).clamp(0, 255) as u32;
            let g = ((c - 100 * u - 208 * v + 128) >> 8).clamp(0, 255) as u32;
            let b = ((c + 516 * u + 128) >> 8).clamp(0, 255) as u32;
            *px = (r << 16) | (g << 8) | b;
        }
    }
}

fn fill(pixels: &mut [u32], r: Rect, color: u32) {
    for y in r.y..(r.y + r.h).min(HEIGHT) {
        let end = (r.x + r.w).min(WIDTH);
        pixels[y * WIDTH + r.x..y * WIDTH + end].fill(color);
    }
}

/// Darkens a rectangle so that text over video stays readable.
fn shade(pixels: &mut [u32], r: Rect) {
    for y in r.y..(r.y + r.h).min(HEIGHT) {
        let end = (r.x + r.w).min(WIDTH);
        for px in &mut pixels[y * WIDTH + r.x..y * WIDTH + end] {
            *px = (*px >> 2) & 0x003f_3f3f;
        }
    }
}

/// Draws `s` with the 8x8 font at `TEXT_SCALE`, clipped to the window.
fn text(pixels: &mut [u32], s: &str, x: usize, y: usize, color: u32) {
    for (i, ch) in s.chars().enumerate() {
        let Some(glyph) = font8x8::BASIC_FONTS.get(ch) else {
            continue;
        };
        let gx = x + i * 8 * TEXT_SCALE;
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) == 0 {
                    continue;
                }
                for sy in 0..TEXT_SCALE {
                    for sx in 0..TEXT_SCALE {
                        let (px, py) = (gx + col * TEXT_SCALE + sx, y + row * TEXT_SCALE + sy);
                        if px < WIDTH && py < HEIGHT {
                            pixels[py * WIDTH + px] = color;
                        }
                    }
                }
            }
        }
    }
}
