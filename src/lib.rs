pub mod analysis;
pub mod clock;
pub mod codec;
pub mod devices;
pub mod engine;
pub mod error;
pub mod frame;
pub mod jitter;
pub mod transport;

pub use engine::config::{AudioInputConfig, AudioOutputConfig, EngineConfig, VideoConfig, VideoInputConfig};
pub use engine::events::{Event, FrameSource, Stream, StreamState};
pub use engine::stats::{Latency, Stats};
pub use engine::Engine;
pub use error::{Error, ErrorKind, Result};
pub use frame::VideoFrame;
pub mod ffi;
