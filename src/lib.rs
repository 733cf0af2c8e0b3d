//! libmedia: a real-time voice and video calling engine with a C ABI.
//!
//! ```
//! use std::time::Duration;
//! use media::{Engine, EngineConfig, Event, FrameSource};
//!
//! // Synthetic devices: a tone, a null speaker and a moving test pattern.
//! let engine = Engine::new(EngineConfig::fake())?;
//! let (tx, rx) = crossbeam_channel::bounded(1);
//! engine.set_frame_handler(Some(Box::new(move |source, frame| {
//!     if source.is_remote() {
//!         let _ = tx.try_send((frame.width, frame.height));
//!     }
//! })));
//! engine.set_event_handler(Some(Box::new(|e: &Event| {
//!     if let Event::Error { message, .. } = e {
//!         eprintln!("engine error: {message}");
//!     }
//! })));
//! engine.start_echo_test()?;
//! let size = rx.recv_timeout(Duration::from_secs(20)).expect("a decoded frame comes back");
//! assert_eq!(size, (640, 360));
//! engine.stop_echo_test();
//! # Ok::<(), media::Error>(())
//! ```
//!
//! # Design
//! The pipeline per direction is capture → encode → transport → decode →
//! playout / render, one stage per folder:
//! - [`devices`]: microphones, speakers, cameras behind traits, with real
//!   (cpal, nokhwa) and fake backends; audio callbacks only touch lock-free
//!   rings.
//! - [`codec`]: Opus and H.264 (openh264, or the host's codec).
//! - [`transport`]: the seam to the network and the in-process loopback.
//! - [`jitter`]: the audio jitter buffer, pure decision code.
//! - [`voice`]: echo cancellation, noise suppression and gain control on
//!   the microphone's audio.
//! - [`engine`]: threads, queues, events, stats and the public API.
//! - [`ffi`]: the C ABI that `include/media.h` declares.
//!
//! Decision code (jitter buffer, impairment) takes time as an argument; only
//! the engine's threads and the devices read the clock ([`clock`]).

pub mod analysis;
pub mod clock;
pub mod codec;
pub mod control;
pub mod devices;
pub mod engine;
pub mod error;
pub mod ffi;
pub mod frame;
pub mod jitter;
#[cfg(feature = "server")]
pub mod local_server;
pub mod log;
pub mod signal;
pub mod transport;
pub mod voice;

pub use codec::video::{VideoCodec, VideoCodecConfig, VideoDecoder, VideoEncoder};
pub use engine::config::{
    AudioInputConfig, AudioOutputConfig, EngineConfig, VideoConfig, VideoInputConfig,
};
pub use engine::events::{Event, FrameSource, Stream, StreamState};
pub use engine::remote::RemoteStats;
pub use engine::stats::{Latency, Stats};
pub use engine::Engine;
pub use error::{Error, ErrorKind, Result};
pub use frame::VideoFrame;
pub use jitter::video::VideoDelay;
#[cfg(feature = "server")]
pub use local_server::LocalServer;
pub use voice::{VoiceProcessing, VoiceStages};
