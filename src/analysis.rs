//! Signal measurements used by the echo test, the benchmarks and the tests:
//! tone frequency and level, level envelopes, silence gaps, video PSNR,
//! and a speech-like test signal.

use crate::frame::VideoFrame;

/// RMS level of `pcm` in dBFS (full scale = 1.0); -inf for silence.
pub fn rms_dbfs(pcm: &[f32]) -> f64 {
    if pcm.is_empty() {
        return f64::NEG_INFINITY;
    }
    let ms = pcm.iter().map(|&s| (s as f64) * (s as f64)).sum::<f64>() / pcm.len() as f64;
    10.0 * ms.log10()
}

/// Frequency of the dominant tone in `pcm`, from the spacing of rising
/// zero crossings (interpolated between samples). `None` with fewer than
/// two crossings.
pub fn tone_frequency(pcm: &[f32], sample_rate: u32) -> Option<f64> {
    let mut first = None;
    let mut last = 0.0;
    let mut count = 0u64;
    for (i, w) in pcm.windows(2).enumerate() {
        if w[0] < 0.0 && w[1] >= 0.0 {
            let frac = w[0] as f64 / (w[0] as f64 - w[1] as f64);
            let t = i as f64 + frac;
            if first.is_none() {
                first = Some(t);
            } else {
                count += 1;
            }
            last = t;
        }
    }
    let first = first?;
    (count > 0).then(|| count as f64 * sample_rate as f64 / (last - first))
}

/// Level in dBFS of the `freq_hz` component of `pcm` (Goertzel): a sine of
/// amplitude A at that frequency reads as 20·log10(A/√2), like [`rms_dbfs`]
/// of the sine alone. Tells the tones of a mix apart.
pub fn tone_level_dbfs(pcm: &[f32], sample_rate: u32, freq_hz: f64) -> f64 {
    if pcm.is_empty() {
        return f64::NEG_INFINITY;
    }
    let w = 2.0 * std::f64::consts::PI * freq_hz / sample_rate as f64;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in pcm {
        let s0 = x as f64 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let amplitude = 2.0 * power.max(0.0).sqrt() / pcm.len() as f64;
    20.0 * (amplitude / std::f64::consts::SQRT_2).log10()
}

/// A speech-like test signal at 48 kHz: a harmonic voice (pitch `f0`
/// gliding ±10 %, like intonation) whose level follows syllables (`rate`
/// per second, with a pause every five), plus a little breath noise; about
/// -26 dBFS while talking. Deterministic for a seed. Echo cancellers and
/// noise suppressors treat it as speech, where they would treat a steady
/// tone as noise.
pub fn talker(seconds: f64, f0: f64, rate: f64, seed: u64) -> Vec<f32> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let n = (seconds * 48_000.0) as usize;
    let tau = 2.0 * std::f64::consts::PI;
    let mut phase = 0.0f64;
    (0..n)
        .map(|i| {
            let t = i as f64 / 48_000.0;
            let f = f0 * (1.0 + 0.1 * (tau * 0.7 * t).sin());
            phase = (phase + tau * f / 48_000.0) % (tau * 1_000.0);
            let voiced: f64 = (1..=12).map(|h| (h as f64 * phase).sin() / h as f64).sum();
            let syllable = (tau * rate * t).sin().max(0.0);
            let talking = if (t * rate / 5.0).fract() < 0.8 {
                1.0
            } else {
                0.0
            };
            let breath = (rng.f64() - 0.5) * 0.05;
            (0.15 * syllable * talking * (voiced + breath)) as f32
        })
        .collect()
}

/// Level in dBFS of each `block` samples of `pcm`, floored at -60 dBFS:
/// the syllable rhythm of speech, comparable with [`correlation`].
pub fn level_envelope(pcm: &[f32], block: usize) -> Vec<f64> {
    pcm.chunks_exact(block)
        .map(|b| rms_dbfs(b).max(-60.0))
        .collect()
}

/// Pearson correlation of `a` and `b` over their common length.
pub fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let (a, b) = (&a[..n], &b[..n]);
    let (ma, mb) = (
        a.iter().sum::<f64>() / n as f64,
        b.iter().sum::<f64>() / n as f64,
    );
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        ab += (x - ma) * (y - mb);
        aa += (x - ma).powi(2);
        bb += (y - mb).powi(2);
    }
    ab / (aa * bb).sqrt().max(1e-20)
}

/// Length in samples of the longest run of windows (`window` samples each)
/// whose RMS is below `floor_dbfs`: how long the signal went silent.
pub fn longest_gap(pcm: &[f32], window: usize, floor_dbfs: f64) -> usize {
    let (mut run, mut longest) = (0, 0);
    for chunk in pcm.chunks(window) {
        if rms_dbfs(chunk) < floor_dbfs {
            run += chunk.len();
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// PSNR in dB over all three planes of two same-sized I420 frames
/// (infinite when identical; 0 when sizes differ).
pub fn psnr_i420(a: &VideoFrame, b: &VideoFrame) -> f64 {
    if (a.width, a.height) != (b.width, b.height) {
        return 0.0;
    }
    let sse: u64 = a
        .data
        .iter()
        .zip(b.data.iter())
        .map(|(&x, &y)| ((x as i64 - y as i64).pow(2)) as u64)
        .sum();
    if sse == 0 {
        return f64::INFINITY;
    }
    let mse = sse as f64 / a.data.len() as f64;
    10.0 * (255.0 * 255.0 / mse).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amp: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| amp * (2.0 * std::f64::consts::PI * freq * i as f64 / 48_000.0).sin() as f32)
            .collect()
    }

    #[test]
    fn measures_tone_frequency_and_level() {
        let x = sine(440.0, 0.5, 48_000);
        let f = tone_frequency(&x, 48_000).unwrap();
        assert!((f - 440.0).abs() < 0.1, "{f}");
        assert!((rms_dbfs(&x) - (-9.03)).abs() < 0.05, "{}", rms_dbfs(&x));
        assert_eq!(tone_frequency(&[0.0; 100], 48_000), None);
    }

    #[test]
    fn tells_the_tones_of_a_mix_apart() {
        let a = sine(660.0, 0.1, 48_000);
        let b = sine(880.0, 0.05, 48_000);
        let mix: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        let level = |f| tone_level_dbfs(&mix, 48_000, f);
        assert!((level(660.0) - (-23.01)).abs() < 0.1, "{}", level(660.0));
        assert!((level(880.0) - (-29.03)).abs() < 0.1, "{}", level(880.0));
        assert!(level(440.0) < -80.0, "{}", level(440.0));
    }

    #[test]
    fn finds_silent_gaps() {
        let mut x = sine(440.0, 0.5, 4_800);
        x.extend(std::iter::repeat_n(0.0, 960));
        x.extend(sine(440.0, 0.5, 4_800));
        assert_eq!(longest_gap(&x, 480, -50.0), 960);
        assert_eq!(longest_gap(&sine(440.0, 0.5, 4800), 480, -50.0), 0);
    }
}
