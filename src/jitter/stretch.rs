//! Time-stretching of decoded speech, one 20 ms frame at a time, the way
//! NetEq's accelerate and preemptive expand work: the frame is searched for
//! its pitch period (the lag at which the waveform best repeats itself),
//! and one period is cross-faded out of it (shorter) or into it (longer).
//! Speech keeps its pitch and nothing is skipped outright, so the jitter
//! buffer can change its depth by up to 10 ms per frame without the gap of
//! a dropped frame or the smear of a concealed one. Frames that do not
//! repeat well enough (onsets, noise) are left alone; near-silent frames
//! stretch by the longest lag.
//!
//! A streaming tempo changer (such as the `wsola` crate's) would hold a
//! window of audio back and change the tempo continuously; the jitter
//! buffer needs the opposite: a decision per frame, applied to that frame
//! alone, with no added latency.
//!
//! Pure DSP on slices: no allocation beyond the caller's output vector.

/// Shortest and longest period searched: 2.5 and 10 ms at 48 kHz (pitch
/// from 400 down to 100 Hz, and multiples of shorter periods).
pub const MIN_LAG: usize = 120;
pub const MAX_LAG: usize = 480;
/// Normalised correlation a period needs to be cut or repeated.
const MIN_SIMILARITY: f32 = 0.85;
/// Mean square below which a frame counts as silence (about -50 dBFS).
const QUIET: f32 = 1e-5;

/// The lag in `MIN_LAG..=MAX_LAG` (bounded by half the frame) at which
/// `x` repeats best, if it repeats well enough to be stretched.
fn period(x: &[f32]) -> Option<usize> {
    let max_lag = MAX_LAG.min(x.len() / 2);
    if max_lag < MIN_LAG {
        return None;
    }
    let energy = x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32;
    if !energy.is_finite() {
        return None;
    }
    if energy < QUIET {
        return Some(max_lag);
    }
    let mut best: Option<(usize, f32)> = None;
    for lag in MIN_LAG..=max_lag {
        let (a, b) = (&x[..lag], &x[lag..2 * lag]);
        let (mut ab, mut aa, mut bb) = (0f32, 0f32, 0f32);
        for (p, q) in a.iter().zip(b) {
            ab += p * q;
            aa += p * p;
            bb += q * q;
        }
        let norm = (aa * bb).sqrt();
        if norm <= f32::EPSILON {
            continue;
        }
        let similarity = ab / norm;
        if best.is_none_or(|(_, s)| similarity > s) {
            best = Some((lag, similarity));
        }
    }
    best.filter(|&(_, s)| s >= MIN_SIMILARITY)
        .map(|(lag, _)| lag)
}

/// `out = a` fading out, cross-faded with `b` fading in (equal lengths).
fn crossfade(a: &[f32], b: &[f32], out: &mut Vec<f32>) {
    let n = a.len() as f32;
    for (i, (p, q)) in a.iter().zip(b).enumerate() {
        let w = (i as f32 + 0.5) / n;
        out.push(p * (1.0 - w) + q * w);
    }
}

/// Appends `x` less one pitch period to `out`; returns how many samples
/// were removed (0: `x` was appended whole).
pub fn shorten(x: &[f32], out: &mut Vec<f32>) -> usize {
    let Some(t) = period(x) else {
        out.extend_from_slice(x);
        return 0;
    };
    // Starts as x does and ends where x[2t..] continues.
    crossfade(&x[..t], &x[t..2 * t], out);
    out.extend_from_slice(&x[2 * t..]);
    t
}

/// Appends `x` with one pitch period more to `out`; returns how many
/// samples were inserted (0: `x` was appended as it is).
pub fn lengthen(x: &[f32], out: &mut Vec<f32>) -> usize {
    let Some(t) = period(x) else {
        out.extend_from_slice(x);
        return 0;
    };
    // x[..t], then a period that starts where x[t..] does and ends where
    // x[..t] did, then x[t..] again from where that period left off.
    out.extend_from_slice(&x[..t]);
    crossfade(&x[t..2 * t], &x[..t], out);
    out.extend_from_slice(&x[t..]);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 960;

    /// A voiced-like signal: 150 Hz with two harmonics.
    fn voiced(n: usize, phase: usize) -> Vec<f32> {
        (phase..phase + n)
            .map(|i| {
                let t = i as f32 / 48_000.0;
                let w = 2.0 * std::f32::consts::PI * 150.0 * t;
                0.3 * w.sin() + 0.1 * (2.0 * w).sin() + 0.05 * (3.0 * w).cos()
            })
            .collect()
    }

    /// Largest jump between neighbouring samples.
    fn max_step(x: &[f32]) -> f32 {
        x.windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn a_periodic_frame_loses_or_gains_whole_periods_without_a_click() {
        let x = voiced(N, 0);
        // 150 Hz: 320 samples a period.
        let mut out = Vec::new();
        let removed = shorten(&x, &mut out);
        assert_eq!(removed, 320);
        assert_eq!(out.len(), N - 320);
        // The result continues the signal seamlessly: it equals the input
        // shifted by one period (the signal repeats exactly).
        let shifted = voiced(N, 320);
        let err = out
            .iter()
            .zip(&shifted[..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 1e-3, "shortened frame differs by {err}");

        let mut out = Vec::new();
        let inserted = lengthen(&x, &mut out);
        assert_eq!(inserted, 320);
        assert_eq!(out.len(), N + 320);
        let step = max_step(&x);
        assert!(max_step(&out) <= step * 1.01, "no click");
    }

    #[test]
    fn noise_is_left_alone_and_silence_stretches_most() {
        let mut rng = fastrand::Rng::with_seed(7);
        let noise: Vec<f32> = (0..N).map(|_| rng.f32() - 0.5).collect();
        let mut out = Vec::new();
        assert_eq!(shorten(&noise, &mut out), 0);
        assert_eq!(out, noise);
        out.clear();
        assert_eq!(lengthen(&noise, &mut out), 0);
        assert_eq!(out.len(), N);

        let quiet = vec![1e-4f32; N];
        out.clear();
        assert_eq!(shorten(&quiet, &mut out), MAX_LAG);
        assert_eq!(out.len(), N - MAX_LAG);
    }

    #[test]
    fn short_or_broken_input_is_passed_through() {
        let mut out = Vec::new();
        assert_eq!(shorten(&[0.5; 100], &mut out), 0);
        assert_eq!(out.len(), 100);
        out.clear();
        let bad = vec![f32::NAN; N];
        assert_eq!(lengthen(&bad, &mut out), 0);
        assert_eq!(out.len(), N);
    }
}
