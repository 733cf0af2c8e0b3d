//! The C ABI (`include/media.h`, generated from the files of this folder by
//! cbindgen), one file per handle or concern: results and the panic
//! boundary (`result`), version / ABI / logs (`library`), strings,
//! `config`, the `engine` handle, `host_media`, `events`, `stats`,
//! `devices`, `signaling`, `local_server`; `handle` binds each opaque
//! handle to its Rust type and `sized` reads and writes growable structs.
//!
//! Conventions: opaque handles created by `media_*_new` and released by
//! `media_*_free` (which accept NULL); every function checks its pointers,
//! runs inside a panic boundary and returns a `media_result`
//! (`media_result_str` names it); outputs are written only on success;
//! config structs are initialised by `*_default()`. Strings in are UTF-8
//! and copied. Callbacks take the `userdata` pointer given with them.
//!
//! Threads: the event callback runs on the engine's "media-events" thread,
//! the frame callback on its "media-render" thread, one call at a time
//! each. Both may call back into the engine, except `media_engine_free`.

#![allow(non_camel_case_types)]
// Every export is an entry point for C, where `unsafe` means nothing: each
// pointer's contract is stated in `media.h`, NULL is checked and answered
// with `MEDIA_ERR_NULL_ARGUMENT`, and each `unsafe` block below says what
// it relies on (as rustls-ffi does).
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use crate::codec::opus::OpusSettings;
use crate::devices::DeviceInfo;
use crate::engine::events::{Event, FrameSource, Stream, StreamState};
use crate::engine::stats::Stats;
use crate::jitter::video::VideoDelay;
use crate::transport::impairment::Impairment;
use crate::voice::{VoiceProcessing, VoiceStages};
use crate::{
    AudioInputConfig, AudioOutputConfig, Engine, EngineConfig, ErrorKind, VideoCodecConfig,
    VideoConfig, VideoInputConfig,
};

// In the order of the header cbindgen writes.
#[macro_use]
mod result;
mod config;
mod devices;
mod engine;
mod events;
mod handle;
mod host_media;
mod library;
mod local_server;
mod signaling;
mod sized;
mod stats;
mod strings;
mod video_codec;

pub use config::*;
pub use devices::*;
pub use engine::*;
pub use events::*;
pub(crate) use handle::*;
pub use host_media::*;
pub use library::*;
pub use local_server::*;
use media_result::*;
pub use result::*;
pub use signaling::*;
use sized::Grown;
pub use stats::*;
pub(crate) use strings::*;
pub use video_codec::{media_video_codec, media_video_encoder_settings};
