//! Sample-rate conversion and channel mixing between the engine's 48 kHz
//! mono and whatever a device runs at. Linear interpolation: devices are
//! opened at 48 kHz whenever they offer it, so this runs only on hardware
//! that does not.

/// Streaming linear resampler, mono.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: u32,
    to: u32,
    /// Position of the next output sample, in input samples, relative to `prev`.
    pos: f64,
    prev: Option<f32>,
}

impl Resampler {
    pub fn new(from: u32, to: u32) -> Self {
        Resampler {
            from: from.max(1),
            to: to.max(1),
            pos: 0.0,
            prev: None,
        }
    }

    /// Converts `input`, appending to `out`. State carries across calls.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.from == self.to {
            out.extend_from_slice(input);
            return;
        }
        let step = self.from as f64 / self.to as f64;
        for &x in input {
            let Some(prev) = self.prev else {
                self.prev = Some(x);
                out.push(x);
                self.pos = step;
                continue;
            };
            // Emit every output sample that falls between prev (0) and x (1).
            while self.pos <= 1.0 {
                let t = self.pos as f32;
                out.push(prev + (x - prev) * t);
                self.pos += step;
            }
            self.pos -= 1.0;
            self.prev = Some(x);
        }
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
    use crate::analysis::tone_frequency;

    #[test]
    fn keeps_tone_frequency_and_length_across_rates() {
        let input: Vec<f32> = (0..44_100)
            .map(|i| (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 44_100.0).sin() as f32)
            .collect();
        let mut r = Resampler::new(44_100, 48_000);
        let mut out = Vec::new();
        for chunk in input.chunks(441) {
            r.process(chunk, &mut out);
        }
        assert!((out.len() as i64 - 48_000).abs() <= 2, "{}", out.len());
        let f = tone_frequency(&out, 48_000).unwrap();
        assert!((f - 1000.0).abs() < 1.0, "{f}");
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
