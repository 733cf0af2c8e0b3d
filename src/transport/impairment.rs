//! Seeded network impairment: loss, delay and jitter decided per packet.
//! Pure and deterministic for a given seed, so tests can replay a network.

use crate::frame::MediaKind;

/// What to do to the packets of a link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairment {
    /// Probability in [0, 1] that an audio frame is lost.
    pub audio_loss: f64,
    /// Probability in [0, 1] that a video frame is lost.
    pub video_loss: f64,
    /// One-way delay added to every frame, microseconds.
    pub delay_us: u64,
    /// Uniform extra delay in [0, jitter_us], microseconds. Frames may reorder.
    pub jitter_us: u64,
    pub seed: u64,
}

impl Default for Impairment {
    fn default() -> Self {
        Impairment {
            audio_loss: 0.0,
            video_loss: 0.0,
            delay_us: 0,
            jitter_us: 0,
            seed: 1,
        }
    }
}

/// Applies an [`Impairment`] packet by packet.
#[derive(Debug)]
pub struct ImpairedLink {
    config: Impairment,
    rng: fastrand::Rng,
}

impl ImpairedLink {
    pub fn new(config: Impairment) -> Self {
        ImpairedLink {
            rng: fastrand::Rng::with_seed(config.seed),
            config,
        }
    }

    /// For a frame sent at `now_us`, when it arrives, or `None` if lost.
    pub fn decide(&mut self, kind: MediaKind, now_us: u64) -> Option<u64> {
        let loss = match kind {
            MediaKind::Audio => self.config.audio_loss,
            MediaKind::Video => self.config.video_loss,
        };
        // Draw both numbers always, so one kind's setting does not shift the other's sequence.
        let lost = self.rng.f64() < loss;
        let jitter = if self.config.jitter_us > 0 {
            self.rng.u64(0..=self.config.jitter_us)
        } else {
            0
        };
        (!lost).then_some(now_us + self.config.delay_us + jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_rate_matches_and_is_reproducible() {
        let cfg = Impairment {
            audio_loss: 0.05,
            seed: 42,
            ..Default::default()
        };
        let run = || {
            let mut link = ImpairedLink::new(cfg);
            (0..20_000)
                .map(|i| link.decide(MediaKind::Audio, i).is_none())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let lost = a.iter().filter(|&&l| l).count() as f64 / a.len() as f64;
        assert!((0.04..0.06).contains(&lost), "loss {lost}");
        let mut link = ImpairedLink::new(cfg);
        assert!((0..1000).all(|i| link.decide(MediaKind::Video, i).is_some()));
    }

    #[test]
    fn delay_and_jitter_bound_arrival() {
        let cfg = Impairment {
            delay_us: 30_000,
            jitter_us: 10_000,
            ..Default::default()
        };
        let mut link = ImpairedLink::new(cfg);
        for i in 0..1000 {
            let at = link.decide(MediaKind::Video, i).unwrap();
            assert!((i + 30_000..=i + 40_000).contains(&at));
        }
    }
}
