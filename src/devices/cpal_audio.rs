//! The real audio backend: microphones and speakers through cpal (ALSA on
//! Linux, CoreAudio, WASAPI, AAudio elsewhere).
//!
//! The device callbacks only copy between the device buffer and the SPSC
//! ring (converting the sample type on the way); an xrun or an under/overflow
//! is counted with a relaxed atomic. No allocation, lock, log or syscall.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{SampleFormat, StreamConfig};
use ringbuf::traits::{Consumer, Producer, Split};
use ringbuf::{HeapCons, HeapProd, HeapRb};

use super::audio::{ring_capacity, AudioFormat, AudioInput, AudioOutput};
use super::{DeviceInfo, ErrorCallback};
use crate::error::{Error, ErrorKind, Result};

fn map_err(context: &str, e: cpal::Error) -> Error {
    use cpal::ErrorKind as K;
    let kind = match e.kind() {
        K::DeviceNotAvailable
        | K::DeviceBusy
        | K::DeviceChanged
        | K::StreamInvalidated
        | K::HostUnavailable => ErrorKind::DeviceUnavailable,
        K::PermissionDenied => ErrorKind::PermissionDenied,
        K::UnsupportedConfig | K::UnsupportedOperation => ErrorKind::Unsupported,
        K::InvalidInput => ErrorKind::InvalidArgument,
        _ => ErrorKind::DeviceUnavailable,
    };
    Error::new(kind, format!("{context}: {e}"))
}

fn list(input: bool) -> Result<Vec<DeviceInfo>> {
    let host = cpal::default_host();
    let default = if input {
        host.default_input_device()
    } else {
        host.default_output_device()
    };
    let default_id = default.and_then(|d| d.id().ok()).map(|id| id.to_string());
    let devices = if input {
        host.input_devices()
    } else {
        host.output_devices()
    }
    .map_err(|e| map_err("enumerate audio devices", e))?;
    let mut out = Vec::new();
    for dev in devices {
        let Ok(id) = dev.id() else { continue };
        let id = id.to_string();
        let name = dev
            .description()
            .map(|d| d.name().to_string())
            .unwrap_or_else(|_| id.clone());
        out.push(DeviceInfo {
            is_default: Some(&id) == default_id.as_ref(),
            id,
            name,
        });
    }
    Ok(out)
}

/// Microphones the system offers.
pub fn list_inputs() -> Result<Vec<DeviceInfo>> {
    list(true)
}

/// Speakers the system offers.
pub fn list_outputs() -> Result<Vec<DeviceInfo>> {
    list(false)
}

fn find_device(id: Option<&str>, input: bool) -> Result<cpal::Device> {
    let host = cpal::default_host();
    let what = if input { "microphone" } else { "speaker" };
    match id {
        None => if input {
            host.default_input_device()
        } else {
            host.default_output_device()
        }
        .ok_or_else(|| Error::new(ErrorKind::NoDevice, format!("no default {what}"))),
        Some(id) => {
            let parsed: cpal::DeviceId = id.parse().map_err(|_| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("{what} id {id:?} is not a device id"),
                )
            })?;
            host.device_by_id(&parsed)
                .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no {what} with id {id:?}")))
        }
    }
}

/// Picks a configuration: f32 or i16 at 48 kHz with the fewest channels if
/// offered, else the device default.
fn choose_config(device: &cpal::Device, input: bool) -> Result<(StreamConfig, SampleFormat)> {
    let ranges: Vec<_> = if input {
        device.supported_input_configs().map(|r| r.collect())
    } else {
        device.supported_output_configs().map(|r| r.collect())
    }
    .map_err(|e| map_err("query audio configs", e))?;
    let usable = |f: SampleFormat| matches!(f, SampleFormat::F32 | SampleFormat::I16);
    let best = ranges
        .iter()
        .filter(|r| usable(r.sample_format()))
        .filter_map(|r| r.try_with_sample_rate(48_000))
        .min_by_key(|c| (c.channels(), c.sample_format() != SampleFormat::F32));
    let chosen = match best {
        Some(c) => c,
        None => if input {
            device.default_input_config()
        } else {
            device.default_output_config()
        }
        .map_err(|e| map_err("default audio config", e))?,
    };
    if !usable(chosen.sample_format()) {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!("sample format {:?} not supported", chosen.sample_format()),
        ));
    }
    Ok((chosen.config(), chosen.sample_format()))
}

/// Counters the device callbacks keep.
#[derive(Default, Debug)]
pub struct CallbackCounters {
    /// Samples that did not fit the ring (input) or were missing (output).
    pub xrun_samples: AtomicU64,
}

/// A microphone through cpal.
pub struct CpalInput {
    device_id: Option<String>,
    stream: Option<cpal::Stream>,
    pub counters: Arc<CallbackCounters>,
}

impl CpalInput {
    /// `device_id` from [`list_inputs`]; `None` opens the system default.
    pub fn new(device_id: Option<String>) -> Self {
        CpalInput {
            device_id,
            stream: None,
            counters: Arc::default(),
        }
    }
}

fn error_forwarder(
    what: &'static str,
    on_error: ErrorCallback,
) -> impl FnMut(cpal::Error) + Send + 'static {
    move |e: cpal::Error| {
        if e.kind() != cpal::ErrorKind::Xrun {
            on_error(map_err(what, e));
        }
    }
}

impl AudioInput for CpalInput {
    fn start(&mut self, on_error: ErrorCallback) -> Result<(AudioFormat, HeapCons<f32>)> {
        self.stop();
        let device = find_device(self.device_id.as_deref(), true)?;
        let (config, sample_format) = choose_config(&device, true)?;
        let format = AudioFormat {
            sample_rate: config.sample_rate,
            channels: config.channels,
        };
        let (mut prod, cons) = HeapRb::<f32>::new(ring_capacity(format)).split();
        let counters = self.counters.clone();
        let errors = error_forwarder("microphone", on_error);
        let stream = match sample_format {
            SampleFormat::F32 => device.build_input_stream::<f32, _, _>(
                config,
                move |data: &[f32], _: &cpal::InputCallbackInfo| {
                    let n = prod.push_slice(data);
                    if n < data.len() {
                        counters
                            .xrun_samples
                            .fetch_add((data.len() - n) as u64, Ordering::Relaxed);
                    }
                },
                errors,
                None,
            ),
            _ => device.build_input_stream::<i16, _, _>(
                config,
                move |data: &[i16], _: &cpal::InputCallbackInfo| {
                    let n = prod.push_iter(data.iter().map(|&s| s as f32 / 32768.0));
                    if n < data.len() {
                        counters
                            .xrun_samples
                            .fetch_add((data.len() - n) as u64, Ordering::Relaxed);
                    }
                },
                errors,
                None,
            ),
        }
        .map_err(|e| map_err("open microphone", e))?;
        stream.play().map_err(|e| map_err("start microphone", e))?;
        self.stream = Some(stream);
        Ok((format, cons))
    }

    fn stop(&mut self) {
        self.stream = None;
    }
}

/// A speaker through cpal.
pub struct CpalOutput {
    device_id: Option<String>,
    stream: Option<cpal::Stream>,
    pub counters: Arc<CallbackCounters>,
}

impl CpalOutput {
    /// `device_id` from [`list_outputs`]; `None` opens the system default.
    pub fn new(device_id: Option<String>) -> Self {
        CpalOutput {
            device_id,
            stream: None,
            counters: Arc::default(),
        }
    }
}

impl AudioOutput for CpalOutput {
    fn start(&mut self, on_error: ErrorCallback) -> Result<(AudioFormat, HeapProd<f32>)> {
        self.stop();
        let device = find_device(self.device_id.as_deref(), false)?;
        let (config, sample_format) = choose_config(&device, false)?;
        let format = AudioFormat {
            sample_rate: config.sample_rate,
            channels: config.channels,
        };
        let (prod, mut cons) = HeapRb::<f32>::new(ring_capacity(format)).split();
        let counters = self.counters.clone();
        let errors = error_forwarder("speaker", on_error);
        let stream = match sample_format {
            SampleFormat::F32 => device.build_output_stream::<f32, _, _>(
                config,
                move |data: &mut [f32], _: &cpal::OutputCallbackInfo| {
                    let n = cons.pop_slice(data);
                    if n < data.len() {
                        data[n..].fill(0.0);
                        counters
                            .xrun_samples
                            .fetch_add((data.len() - n) as u64, Ordering::Relaxed);
                    }
                },
                errors,
                None,
            ),
            _ => device.build_output_stream::<i16, _, _>(
                config,
                move |data: &mut [i16], _: &cpal::OutputCallbackInfo| {
                    let mut missing = 0u64;
                    for s in data.iter_mut() {
                        *s = match cons.try_pop() {
                            Some(v) => (v.clamp(-1.0, 1.0) * 32767.0) as i16,
                            None => {
                                missing += 1;
                                0
                            }
                        };
                    }
                    if missing > 0 {
                        counters.xrun_samples.fetch_add(missing, Ordering::Relaxed);
                    }
                },
                errors,
                None,
            ),
        }
        .map_err(|e| map_err("open speaker", e))?;
        stream.play().map_err(|e| map_err("start speaker", e))?;
        self.stream = Some(stream);
        Ok((format, prod))
    }

    fn stop(&mut self) {
        self.stream = None;
    }
}
