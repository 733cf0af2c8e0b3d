//! Video sources: the [`VideoInput`] trait with the fake backends (moving
//! test pattern, looping Y4M file) and a Y4M writer for recordings. The real
//! camera lives in [`super::camera`].
//!
//! A started source runs its own thread and hands each I420 frame to the
//! closure it was started with; it never blocks on the consumer.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::pattern::{self, Stamp};
use super::ErrorCallback;
use crate::clock::Clock;
use crate::error::{Error, ErrorKind, Result};
use crate::frame::VideoFrame;

/// Size and rate a source delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoFormat {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

/// Receives captured frames, on the source's thread.
pub type FrameCallback = Box<dyn FnMut(VideoFrame) + Send>;

/// A camera or anything that acts like one.
pub trait VideoInput: Send {
    fn start(&mut self, on_frame: FrameCallback, on_error: ErrorCallback) -> Result<VideoFormat>;
    fn stop(&mut self);
}

/// A thread that produces frames at a fixed rate until told to stop.
pub(crate) struct FrameThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FrameThread {
    /// Calls `produce(n)` for n = 0, 1, 2… every `1/fps` seconds, on absolute
    /// deadlines. A producer that returns false ends the thread.
    pub(crate) fn spawn(
        name: &str,
        fps: u32,
        clock: Clock,
        mut produce: impl FnMut(u64) -> bool + Send + 'static,
    ) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let period_us = 1_000_000 / fps.max(1) as u64;
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let start = clock.now_us();
                let mut n = 0u64;
                while !flag.load(Ordering::Relaxed) {
                    if !produce(n) {
                        return;
                    }
                    n += 1;
                    let due = start + n * period_us;
                    let now = clock.now_us();
                    if due > now {
                        std::thread::sleep(Duration::from_micros(due - now));
                    }
                }
            })
            .map_err(|e| Error::internal(format!("spawn {name}: {e}")))?;
        Ok(FrameThread {
            stop,
            thread: Some(thread),
        })
    }

    pub(crate) fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for FrameThread {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The moving test pattern of [`pattern`], stamped with its frame number and
/// capture time on the engine clock.
pub struct PatternSource {
    format: VideoFormat,
    clock: Clock,
    running: Option<FrameThread>,
}

impl PatternSource {
    pub fn new(format: VideoFormat, clock: Clock) -> Result<Self> {
        if !pattern::supports(format.width, format.height) || format.fps == 0 || format.fps > 120 {
            return Err(Error::invalid_argument(format!(
                "test pattern needs even sizes of at least 256x144 and 1..=120 fps, got {}x{}@{}",
                format.width, format.height, format.fps
            )));
        }
        Ok(PatternSource {
            format,
            clock,
            running: None,
        })
    }
}

impl VideoInput for PatternSource {
    fn start(
        &mut self,
        mut on_frame: FrameCallback,
        _on_error: ErrorCallback,
    ) -> Result<VideoFormat> {
        self.stop();
        let VideoFormat { width, height, fps } = self.format;
        let clock = self.clock;
        self.running = Some(FrameThread::spawn("media-pattern", fps, clock, move |n| {
            let mut buf = vec![0u8; VideoFrame::i420_len(width, height)];
            let capture_us = clock.now_us();
            pattern::render(
                width,
                height,
                Stamp {
                    frame_number: n as u32,
                    capture_us,
                },
                &mut buf,
            );
            on_frame(VideoFrame::new(width, height, buf, capture_us));
            true
        })?);
        Ok(self.format)
    }

    fn stop(&mut self) {
        if let Some(mut t) = self.running.take() {
            t.stop();
        }
    }
}

fn y4m_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::io(&format!("y4m {}", path.display()), e)
}

fn open_y4m(path: &Path) -> Result<y4m::Decoder<BufReader<File>>> {
    let file = File::open(path).map_err(|e| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Io
        };
        Error::new(kind, format!("open {}: {e}", path.display()))
    })?;
    let dec = y4m::decode(BufReader::new(file)).map_err(|e| y4m_err(path, format!("{e:?}")))?;
    use y4m::Colorspace::*;
    if !matches!(
        dec.get_colorspace(),
        C420 | C420jpeg | C420paldv | C420mpeg2
    ) {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!("{}: only 8-bit 4:2:0 Y4M is supported", path.display()),
        ));
    }
    if dec.get_width() % 2 == 1 || dec.get_height() % 2 == 1 {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!("{}: odd frame size", path.display()),
        ));
    }
    Ok(dec)
}

/// Plays a Y4M file (8-bit 4:2:0) at its own frame rate, looping at the end.
pub struct Y4mSource {
    path: PathBuf,
    clock: Clock,
    running: Option<FrameThread>,
}

impl Y4mSource {
    pub fn new(path: impl Into<PathBuf>, clock: Clock) -> Self {
        Y4mSource {
            path: path.into(),
            clock,
            running: None,
        }
    }
}

impl VideoInput for Y4mSource {
    fn start(
        &mut self,
        mut on_frame: FrameCallback,
        on_error: ErrorCallback,
    ) -> Result<VideoFormat> {
        self.stop();
        let path = self.path.clone();
        let mut dec = open_y4m(&path)?;
        let (w, h) = (dec.get_width() as u32, dec.get_height() as u32);
        let rate = dec.get_framerate();
        let fps = rate
            .num
            .checked_div(rate.den)
            .map_or(30, |fps| fps.clamp(1, 120) as u32);
        let clock = self.clock;
        self.running = Some(FrameThread::spawn("media-y4m", fps, clock, move |_| {
            let mut frame = dec.read_frame();
            if frame.is_err() {
                // End of file: loop from the start.
                match open_y4m(&path) {
                    Ok(d) => dec = d,
                    Err(e) => {
                        on_error(e);
                        return false;
                    }
                }
                frame = dec.read_frame();
            }
            match frame {
                Ok(f) => {
                    let mut data = Vec::with_capacity(VideoFrame::i420_len(w, h));
                    data.extend_from_slice(f.get_y_plane());
                    data.extend_from_slice(f.get_u_plane());
                    data.extend_from_slice(f.get_v_plane());
                    on_frame(VideoFrame::new(w, h, data, clock.now_us()));
                    true
                }
                Err(e) => {
                    on_error(y4m_err(&path, format!("{e:?}")));
                    false
                }
            }
        })?);
        Ok(VideoFormat {
            width: w,
            height: h,
            fps,
        })
    }

    fn stop(&mut self) {
        if let Some(mut t) = self.running.take() {
            t.stop();
        }
    }
}

/// Writes frames to a Y4M file. The first frame fixes the size; frames of
/// another size (a sender stepping down its resolution ladder) are scaled
/// to it.
pub struct Y4mWriter {
    path: PathBuf,
    fps: u32,
    /// Created (truncated) up front so a bad path fails early; the header
    /// goes in with the first frame, which fixes the size.
    file: Option<File>,
    encoder: Option<y4m::Encoder<BufWriter<File>>>,
    size: Option<(u32, u32)>,
    pub frames_written: u64,
}

impl Y4mWriter {
    pub fn create(path: impl Into<PathBuf>, fps: u32) -> Result<Self> {
        let path = path.into();
        let file =
            File::create(&path).map_err(|e| Error::io(&format!("create {}", path.display()), e))?;
        Ok(Y4mWriter {
            path,
            fps: fps.max(1),
            file: Some(file),
            encoder: None,
            size: None,
            frames_written: 0,
        })
    }

    pub fn write(&mut self, frame: &VideoFrame) -> Result<()> {
        if self.encoder.is_none() {
            let Some(file) = self.file.take() else {
                return Ok(());
            };
            let enc = y4m::encode(
                frame.width as usize,
                frame.height as usize,
                y4m::Ratio::new(self.fps as usize, 1),
            )
            .with_colorspace(y4m::Colorspace::C420jpeg)
            .write_header(BufWriter::new(file))
            .map_err(|e| y4m_err(&self.path, format!("{e:?}")))?;
            self.encoder = Some(enc);
            self.size = Some((frame.width, frame.height));
        }
        let frame = match self.size {
            Some((w, h)) if (w, h) != (frame.width, frame.height) => {
                crate::devices::convert::scale(frame, w, h)
            }
            _ => frame.clone(),
        };
        let enc = self.encoder.as_mut().expect("created above");
        enc.write_frame(&y4m::Frame::new([frame.y(), frame.u(), frame.v()], None))
            .map_err(|e| y4m_err(&self.path, format!("{e:?}")))?;
        self.frames_written += 1;
        Ok(())
    }
}

/// Reads every frame of a Y4M file (for tests and tools).
pub fn read_y4m(path: &Path) -> Result<Vec<VideoFrame>> {
    let mut dec = open_y4m(path)?;
    let (w, h) = (dec.get_width() as u32, dec.get_height() as u32);
    let mut frames = Vec::new();
    while let Ok(f) = dec.read_frame() {
        let mut data = Vec::with_capacity(VideoFrame::i420_len(w, h));
        data.extend_from_slice(f.get_y_plane());
        data.extend_from_slice(f.get_u_plane());
        data.extend_from_slice(f.get_v_plane());
        frames.push(VideoFrame::new(w, h, data, 0));
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn y4m_write_read_round_trip_and_source_loops() {
        let dir = std::env::temp_dir().join(format!("media-y4m-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("clip.y4m");
        let mut w = Y4mWriter::create(&path, 30).unwrap();
        for n in 0..3u32 {
            let mut buf = vec![0; VideoFrame::i420_len(256, 144)];
            pattern::render(
                256,
                144,
                Stamp {
                    frame_number: n,
                    capture_us: 0,
                },
                &mut buf,
            );
            w.write(&VideoFrame::new(256, 144, buf, 0)).unwrap();
        }
        assert_eq!(w.frames_written, 3);
        drop(w);
        let frames = read_y4m(&path).unwrap();
        assert_eq!(frames.len(), 3);
        // A frame of another size is scaled to the file's.
        let resized = dir.join("resized.y4m");
        let mut w = Y4mWriter::create(&resized, 30).unwrap();
        w.write(&frames[0]).unwrap();
        w.write(&VideoFrame::new(
            2,
            2,
            vec![200, 200, 200, 200, 128, 128],
            0,
        ))
        .unwrap();
        drop(w);
        let back = read_y4m(&resized).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!((back[1].width, back[1].height), (256, 144));
        assert!(back[1].y().iter().all(|&v| v == 200));
        assert_eq!(
            pattern::read_stamp(256, 144, frames[2].y(), 256)
                .unwrap()
                .frame_number,
            2
        );

        let (tx, rx) = crossbeam_channel::unbounded();
        let mut src = Y4mSource::new(&path, Clock::new());
        let fmt = src
            .start(Box::new(move |f| drop(tx.send(f))), Arc::new(|_| {}))
            .unwrap();
        assert_eq!((fmt.width, fmt.height, fmt.fps), (256, 144, 30));
        let numbers: Vec<u32> = (0..7)
            .map(|_| {
                let f = rx.recv_timeout(Duration::from_secs(5)).unwrap();
                pattern::read_stamp(256, 144, f.y(), 256)
                    .unwrap()
                    .frame_number
            })
            .collect();
        src.stop();
        assert_eq!(numbers, vec![0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(
            Y4mSource::new(dir.join("missing.y4m"), Clock::new())
                .start(Box::new(|_| {}), Arc::new(|_| {}))
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
