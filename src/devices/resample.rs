//! Sample-rate conversion and channel mixing between the engine's 48 kHz
//! mono and whatever a device or a host runs at (8 to 48 kHz and beyond).
//! The conversion is rubato's windowed-sinc resampler (256 taps,
//! Blackman-Harris²), so a 44.1 kHz device or an 8 kHz phone line neither
//! aliases nor images; equal rates pass through untouched.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, FixedAsync, Resampler as _, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

/// Streaming mono resampler: feed any number of samples at a time; output
/// comes in 10 ms blocks of the input rate, a little over 10 ms behind the
/// input.
pub struct Resampler {
    /// `None` when the rates are equal.
    sinc: Option<Async<f32>>,
    /// Input not yet converted (less than one block).
    pending: Vec<f32>,
    /// One block of output.
    block: Vec<f32>,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("converting", &self.sinc.is_some())
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Resampler {
    /// A converter from `from` Hz to `to` Hz. Rates are clamped to at least
    /// 1 Hz; a pair rubato cannot convert falls back to passing through
    /// (and says so in the log), which never happens for 8..=192 kHz.
    pub fn new(from: u32, to: u32) -> Self {
        let (from, to) = (from.max(1) as usize, to.max(1) as usize);
        let sinc = (from != to)
            .then(|| {
                let block = (from / 100).max(1);
                let params = SincInterpolationParameters {
                    sinc_len: 256,
                    f_cutoff: None,
                    oversampling_factor: 128,
                    interpolation: SincInterpolationType::Cubic,
                    window: WindowFunction::BlackmanHarris2,
                };
                Async::<f32>::new_sinc(
                    to as f64 / from as f64,
                    1.1,
                    &params,
                    block,
                    1,
                    FixedAsync::Input,
                )
                .map_err(|e| tracing::error!("resampler {from} -> {to} Hz: {e}"))
                .ok()
            })
            .flatten();
        let (pending, block) = match &sinc {
            Some(f) => (
                Vec::with_capacity(2 * f.input_frames_max()),
                vec![0.0; f.output_frames_max()],
            ),
            None => (Vec::new(), Vec::new()),
        };
        Resampler {
            sinc,
            pending,
            block,
        }
    }

    /// Converts `input`, appending to `out`. State carries across calls.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        let Some(sinc) = self.sinc.as_mut() else {
            out.extend_from_slice(input);
            return;
        };
        self.pending.extend_from_slice(input);
        let mut used = 0;
        loop {
            let need = sinc.input_frames_next();
            if self.pending.len() - used < need {
                break;
            }
            let chunk = &self.pending[used..used + need];
            let capacity = self.block.len();
            let converted = InterleavedSlice::new(chunk, 1, need).and_then(|inp| {
                let mut outp = InterleavedSlice::new_mut(&mut self.block, 1, capacity)?;
                Ok(sinc.process_into_buffer(&inp, &mut outp, None))
            });
            used += need;
            match converted {
                Ok(Ok((_, written))) => out.extend_from_slice(&self.block[..written]),
                // Buffers are sized from the resampler's own maxima: a bug.
                _ => debug_assert!(false, "resampler buffers mis-sized"),
            }
        }
        self.pending.drain(..used);
    }
}

/// Averages interleaved frames of `channels` into mono.
pub fn downmix(interleaved: &[f32], channels: u16, out: &mut Vec<f32>) {
    let ch = channels.max(1) as usize;
    out.extend(
        interleaved
            .chunks_exact(ch)
            .map(|f| f.iter().sum::<f32>() / ch as f32),
    );
}

/// Copies mono samples into every channel of interleaved frames.
pub fn upmix(mono: &[f32], channels: u16, out: &mut Vec<f32>) {
    let ch = channels.max(1) as usize;
    for &s in mono {
        out.extend(std::iter::repeat_n(s, ch));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{rms_dbfs, tone_frequency};

    fn tone(freq: f64, rate: u32, seconds: f64) -> Vec<f32> {
        (0..(rate as f64 * seconds) as usize)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()) as f32
            })
            .collect()
    }

    /// Streams `input` through in uneven pieces, as devices deliver it.
    fn convert(input: &[f32], from: u32, to: u32) -> Vec<f32> {
        let mut r = Resampler::new(from, to);
        let mut out = Vec::new();
        for (i, chunk) in input.chunks(97 + from as usize / 1000).enumerate() {
            r.process(chunk, &mut out);
            assert!(i < 100_000);
        }
        out
    }

    #[test]
    fn keeps_tone_frequency_level_and_length_at_every_host_rate() {
        for rate in [8_000, 16_000, 32_000, 44_100, 48_000] {
            for (from, to) in [(rate, 48_000), (48_000, rate)] {
                let input = tone(1000.0, from, 1.0);
                let out = convert(&input, from, to);
                // Everything but the last partial block and the delay.
                let lost = to as i64 / 40;
                assert!(
                    (out.len() as i64 - to as i64).abs() <= lost,
                    "{from} -> {to}: {} samples",
                    out.len()
                );
                let steady = &out[out.len() / 4..];
                let f = tone_frequency(steady, to).unwrap();
                assert!((f - 1000.0).abs() < 1.0, "{from} -> {to}: {f} Hz");
                let level = rms_dbfs(steady);
                assert!(
                    (level - rms_dbfs(&input)).abs() < 0.2,
                    "{from} -> {to}: {level}"
                );
            }
        }
    }

    #[test]
    fn does_not_alias_what_the_lower_rate_cannot_carry() {
        // 20 kHz has no place below 16 kHz's 8 kHz Nyquist: linear
        // interpolation (every third sample here) folds it back to 4 kHz
        // at full level; a band-limited converter removes it.
        let input = tone(20_000.0, 48_000, 1.0);
        let out = convert(&input, 48_000, 16_000);
        let steady = &out[out.len() / 4..];
        let level = rms_dbfs(steady) - rms_dbfs(&input);
        assert!(level < -60.0, "20 kHz at 16 kHz: {level:.1} dB");
        // And the level of what fits is kept (checked above); a tone near
        // the top of the band survives.
        let input = tone(7_000.0, 48_000, 1.0);
        let out = convert(&input, 48_000, 16_000);
        let level = rms_dbfs(&out[out.len() / 4..]) - rms_dbfs(&input);
        assert!(level > -1.0, "7 kHz at 16 kHz: {level:.1} dB");
    }

    #[test]
    fn mixes_channels() {
        let mut m = Vec::new();
        downmix(&[1.0, 0.0, 0.5, 0.5], 2, &mut m);
        assert_eq!(m, vec![0.5, 0.5]);
        let mut s = Vec::new();
        upmix(&[0.25], 3, &mut s);
        assert_eq!(s, vec![0.25; 3]);
    }
}
