//! Builds without the `system-devices` feature (a phone app, whose
//! platform voice processing owns the microphone and speaker): no system
//! audio devices. Enumeration is empty and opening one fails with
//! `Unsupported`; host-fed audio (`AudioInputConfig::External`,
//! `AudioOutputConfig::External`) is the way in and out.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use ringbuf::{HeapCons, HeapProd};

use super::audio::{AudioFormat, AudioInput, AudioOutput};
use super::{DeviceInfo, ErrorCallback};
use crate::error::{Error, ErrorKind, Result};

fn unsupported() -> Error {
    Error::new(
        ErrorKind::Unsupported,
        "this build has no system audio devices (feature system-devices): push and pull audio with AudioInputConfig / AudioOutputConfig::External",
    )
}

pub fn list_inputs() -> Result<Vec<DeviceInfo>> {
    Ok(Vec::new())
}

pub fn list_outputs() -> Result<Vec<DeviceInfo>> {
    Ok(Vec::new())
}

/// Counters the device callbacks keep (always zero here).
#[derive(Default, Debug)]
pub struct CallbackCounters {
    pub xrun_samples: AtomicU64,
}

/// A system microphone, which this build cannot open.
pub struct CpalInput {
    pub counters: Arc<CallbackCounters>,
}

impl CpalInput {
    pub fn new(_device_id: Option<String>) -> Self {
        CpalInput {
            counters: Arc::default(),
        }
    }
}

impl AudioInput for CpalInput {
    fn start(&mut self, _on_error: ErrorCallback) -> Result<(AudioFormat, HeapCons<f32>)> {
        Err(unsupported())
    }

    fn stop(&mut self) {}
}

/// A system speaker, which this build cannot open.
pub struct CpalOutput {
    pub counters: Arc<CallbackCounters>,
}

impl CpalOutput {
    pub fn new(_device_id: Option<String>) -> Self {
        CpalOutput {
            counters: Arc::default(),
        }
    }
}

impl AudioOutput for CpalOutput {
    fn start(&mut self, _on_error: ErrorCallback) -> Result<(AudioFormat, HeapProd<f32>)> {
        Err(unsupported())
    }

    fn stop(&mut self) {}
}
