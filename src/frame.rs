//! The units that flow between pipeline stages: raw video frames (I420),
//! and encoded frames (one Opus packet or one H.264 access unit).

use std::sync::Arc;

/// A raw video frame in I420 (planar Y, then U, then V at half resolution),
/// tightly packed: the Y stride is `width`, the U and V strides `width / 2`.
/// Width and height are even. Cloning shares the pixels.
#[derive(Clone, Debug)]
pub struct VideoFrame {
    pub width: u32,
    pub height: u32,
    /// Y plane, then U, then V; `width * height * 3 / 2` bytes.
    pub data: Arc<Vec<u8>>,
    /// When the frame was captured, in microseconds on the engine clock.
    /// For a remote's frame: the sender's capture time mapped through its
    /// RTCP sender reports, or its arrival time until those are known (see
    /// `capture_known`).
    pub capture_us: u64,
    /// `capture_us` is the capture time (false: only the arrival time of a
    /// remote's frame whose sender's clock is not mapped yet).
    pub capture_known: bool,
}

impl VideoFrame {
    /// Bytes an I420 frame of this size occupies.
    pub fn i420_len(width: u32, height: u32) -> usize {
        let (w, h) = (width as usize, height as usize);
        w * h + 2 * (w / 2) * (h / 2)
    }

    /// Wraps packed I420 bytes. `data.len()` must equal [`Self::i420_len`].
    pub fn new(width: u32, height: u32, data: Vec<u8>, capture_us: u64) -> Self {
        debug_assert_eq!(data.len(), Self::i420_len(width, height));
        VideoFrame {
            width,
            height,
            data: Arc::new(data),
            capture_us,
            capture_known: true,
        }
    }

    /// The Y plane.
    pub fn y(&self) -> &[u8] {
        &self.data[..self.y_len()]
    }

    /// The U (Cb) plane.
    pub fn u(&self) -> &[u8] {
        let (y, c) = (self.y_len(), self.chroma_len());
        &self.data[y..y + c]
    }

    /// The V (Cr) plane.
    pub fn v(&self) -> &[u8] {
        let (y, c) = (self.y_len(), self.chroma_len());
        &self.data[y + c..y + 2 * c]
    }

    /// Stride of the Y plane in bytes.
    pub fn y_stride(&self) -> usize {
        self.width as usize
    }

    /// Stride of the U and V planes in bytes.
    pub fn chroma_stride(&self) -> usize {
        self.width as usize / 2
    }

    fn y_len(&self) -> usize {
        self.width as usize * self.height as usize
    }

    fn chroma_len(&self) -> usize {
        (self.width as usize / 2) * (self.height as usize / 2)
    }
}

/// Which kind of media an encoded frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Audio,
    Video,
}

/// One encoded unit handed to or received from a transport.
#[derive(Clone, Debug)]
pub struct EncodedFrame {
    pub kind: MediaKind,
    /// Sender sequence number, +1 per frame of this kind.
    pub seq: u64,
    /// Media timestamp: 48 kHz samples for audio, 90 kHz ticks for video.
    pub timestamp: u64,
    /// Capture time, microseconds on this engine's clock: a local frame's
    /// own; a received one's mapped from the sender's clock through RTCP
    /// sender reports (or its arrival time, until they come: see
    /// `capture_known`).
    pub capture_us: u64,
    /// When the encoder finished, on this engine's clock (received frames:
    /// not known, the same as `capture_us`).
    pub encoded_us: u64,
    /// Whether `capture_us` is a capture time at all.
    pub capture_known: bool,
    /// Video only: an IDR frame the decoder can start from.
    pub keyframe: bool,
    pub data: Vec<u8>,
}
