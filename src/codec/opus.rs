//! Opus at 48 kHz mono, 20 ms frames, VoIP application, with in-band FEC and
//! loss concealment on the decoding side.

use crate::error::{Error, Result};

/// Samples per channel in one 20 ms frame at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;
/// Opus' largest packet for one frame.
const MAX_PACKET: usize = 1500;

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusSettings {
    /// The bitrate on a path with room (default 48 kbit/s). In calls the
    /// engine runs at most 32 kbit/s while the path is estimated below
    /// 1 Mbit/s, and adds up to half for FEC under loss.
    pub bitrate_bps: u32,
    /// In-band forward error correction (lets the receiver rebuild a lost
    /// packet from its successor).
    pub fec: bool,
    /// Expected packet loss in percent, 0..=100; steers how much FEC is spent.
    pub expected_loss_pct: u8,
    /// Discontinuous transmission: near-silent frames shrink to a few bytes.
    pub dtx: bool,
}

impl Default for OpusSettings {
    fn default() -> Self {
        OpusSettings {
            bitrate_bps: 48_000,
            fec: true,
            expected_loss_pct: 10,
            dtx: false,
        }
    }
}

fn codec_err(what: &str, e: opus::Error) -> Error {
    Error::codec(format!("opus {what}: {e}"))
}

/// 20 ms frames of mono f32 PCM in, packets out.
pub struct OpusEncoder {
    inner: opus::Encoder,
    settings: OpusSettings,
}

impl OpusEncoder {
    pub fn new(settings: OpusSettings) -> Result<Self> {
        let inner = opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip)
            .map_err(|e| codec_err("create encoder", e))?;
        let mut enc = OpusEncoder { inner, settings };
        enc.apply(settings)?;
        Ok(enc)
    }

    /// Applies new settings while running.
    pub fn apply(&mut self, s: OpusSettings) -> Result<()> {
        if !(6_000..=510_000).contains(&s.bitrate_bps) || s.expected_loss_pct > 100 {
            return Err(Error::invalid_argument(format!(
                "opus bitrate {} (6000..=510000) or loss {}% (0..=100) out of range",
                s.bitrate_bps, s.expected_loss_pct
            )));
        }
        let e = &mut self.inner;
        e.set_bitrate(opus::Bitrate::Bits(s.bitrate_bps as i32))
            .map_err(|e| codec_err("bitrate", e))?;
        e.set_inband_fec(s.fec).map_err(|e| codec_err("fec", e))?;
        e.set_packet_loss_perc(s.expected_loss_pct as i32)
            .map_err(|e| codec_err("loss", e))?;
        e.set_dtx(s.dtx).map_err(|e| codec_err("dtx", e))?;
        self.settings = s;
        Ok(())
    }

    pub fn settings(&self) -> OpusSettings {
        self.settings
    }

    /// Encodes exactly [`FRAME_SAMPLES`] samples into `out` (cleared first).
    pub fn encode(&mut self, pcm: &[f32], out: &mut Vec<u8>) -> Result<()> {
        if pcm.len() != FRAME_SAMPLES {
            return Err(Error::invalid_argument(format!(
                "opus frame has {} samples, needs {FRAME_SAMPLES}",
                pcm.len()
            )));
        }
        out.resize(MAX_PACKET, 0);
        let n = self
            .inner
            .encode_float(pcm, out)
            .map_err(|e| codec_err("encode", e))?;
        out.truncate(n);
        Ok(())
    }
}

/// Packets in, 20 ms frames of mono f32 PCM out.
pub struct OpusDecoder {
    inner: opus::Decoder,
}

impl OpusDecoder {
    pub fn new() -> Result<Self> {
        let inner = opus::Decoder::new(48_000, opus::Channels::Mono)
            .map_err(|e| codec_err("create decoder", e))?;
        Ok(OpusDecoder { inner })
    }

    /// Decodes one packet into `out` ([`FRAME_SAMPLES`] long).
    pub fn decode(&mut self, packet: &[u8], out: &mut [f32; FRAME_SAMPLES]) -> Result<()> {
        if packet.is_empty() {
            return Err(Error::invalid_argument("empty opus packet"));
        }
        self.run(packet, out, false)
    }

    /// Conceals a lost frame (no packet at all).
    pub fn conceal(&mut self, out: &mut [f32; FRAME_SAMPLES]) -> Result<()> {
        self.run(&[], out, false)
    }

    /// Rebuilds the lost frame that precedes `next` from `next`'s in-band
    /// FEC data. Falls back to concealment inside Opus when `next` has none.
    pub fn recover(&mut self, next: &[u8], out: &mut [f32; FRAME_SAMPLES]) -> Result<()> {
        self.run(next, out, true)
    }

    fn run(&mut self, packet: &[u8], out: &mut [f32; FRAME_SAMPLES], fec: bool) -> Result<()> {
        let n = self
            .inner
            .decode_float(packet, out, fec)
            .map_err(|e| codec_err("decode", e))?;
        if n != FRAME_SAMPLES {
            // Packets of another duration are not ours; keep the output defined.
            out[n.min(FRAME_SAMPLES)..].fill(0.0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(frame: usize) -> [f32; FRAME_SAMPLES] {
        let mut pcm = [0f32; FRAME_SAMPLES];
        for (i, s) in pcm.iter_mut().enumerate() {
            let t = (frame * FRAME_SAMPLES + i) as f32 / 48_000.0;
            *s = 0.3 * (2.0 * std::f32::consts::PI * 440.0 * t).sin();
        }
        pcm
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn round_trip_keeps_level_and_fec_rebuilds_a_lost_frame() {
        let mut enc = OpusEncoder::new(OpusSettings::default()).unwrap();
        let mut dec = OpusDecoder::new().unwrap();
        let packets: Vec<Vec<u8>> = (0..50)
            .map(|f| {
                let mut p = Vec::new();
                enc.encode(&tone(f), &mut p).unwrap();
                p
            })
            .collect();
        let mut out = [0f32; FRAME_SAMPLES];
        for p in &packets[..40] {
            dec.decode(p, &mut out).unwrap();
        }
        assert!(
            (rms(&out) - 0.3 / 2f32.sqrt()).abs() < 0.05,
            "rms {}",
            rms(&out)
        );
        // Frame 40 lost: rebuilt from 41's FEC, then 41 itself.
        dec.recover(&packets[41], &mut out).unwrap();
        assert!(rms(&out) > 0.1, "fec output rms {}", rms(&out));
        dec.decode(&packets[41], &mut out).unwrap();
        dec.conceal(&mut out).unwrap();
        assert!(
            rms(&out) > 0.01,
            "plc continues the tone: rms {}",
            rms(&out)
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let mut enc = OpusEncoder::new(OpusSettings::default()).unwrap();
        assert!(enc.encode(&[0.0; 100], &mut Vec::new()).is_err());
        assert!(OpusEncoder::new(OpusSettings {
            bitrate_bps: 1,
            ..Default::default()
        })
        .is_err());
        let mut dec = OpusDecoder::new().unwrap();
        let mut out = [0f32; FRAME_SAMPLES];
        assert!(dec.decode(&[], &mut out).is_err());
        // Garbage never panics; it may decode to noise or be rejected.
        let _ = dec.decode(&[0xff, 0xff, 0xff, 0xff, 0x01], &mut out);
    }
}
