//! H.264 constrained baseline through openh264: bitrate rate control at a
//! fixed maximum frame rate, IDR only on request (no periodic or
//! scene-change IDRs), target bitrate changeable while running. The decoder
//! reports corrupt input as an error and starts over at the next IDR.

use std::os::raw::c_void;

use openh264::decoder::Decoder;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, Profile,
    RateControlMode, UsageType,
};
use openh264::formats::{YUVSlices, YUVSource};
use openh264::{OpenH264API, Timestamp};
use openh264_sys2::{
    SBitrateInfo, ENCODER_OPTION_BITRATE, ENCODER_OPTION_MAX_BITRATE, SPATIAL_LAYER_0,
    SPATIAL_LAYER_ALL,
};

use super::video::{check_bitrate, check_settings, VideoCodec, VideoDecoder, VideoEncoder};
pub use super::video::{check_size, is_keyframe, H264Frame, H264Settings};
use crate::error::{Error, Result};
use crate::frame::VideoFrame;

/// The library's own H.264 codec, as a [`VideoCodec`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Openh264;

impl VideoCodec for Openh264 {
    fn name(&self) -> &str {
        "openh264"
    }

    fn encoder(&self, settings: H264Settings) -> Result<Box<dyn VideoEncoder>> {
        Ok(Box::new(H264Encoder::new(settings)?))
    }

    fn decoder(&self) -> Result<Box<dyn VideoDecoder>> {
        Ok(Box::new(H264Decoder::new()?))
    }
}

impl VideoEncoder for H264Encoder {
    fn settings(&self) -> H264Settings {
        H264Encoder::settings(self)
    }

    fn request_keyframe(&mut self) {
        H264Encoder::request_keyframe(self)
    }

    fn set_bitrate(&mut self, bps: u32) -> Result<()> {
        H264Encoder::set_bitrate(self, bps)
    }

    fn encode(&mut self, frame: &VideoFrame, pts_ms: u64) -> Result<Option<H264Frame>> {
        H264Encoder::encode(self, frame, pts_ms)
    }
}

impl VideoDecoder for H264Decoder {
    fn decode(&mut self, annexb: &[u8], capture_us: u64) -> Result<Option<VideoFrame>> {
        H264Decoder::decode(self, annexb, capture_us)
    }
}

/// I420 frames in, H.264 access units out.
pub struct H264Encoder {
    inner: Encoder,
    settings: H264Settings,
    /// The bitrate the running encoder was last set to.
    applied_bps: u32,
    started: bool,
    force_idr: bool,
}

impl H264Encoder {
    pub fn new(settings: H264Settings) -> Result<Self> {
        check_settings(&settings)?;
        let config = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .profile(Profile::Baseline)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(settings.bitrate_bps))
            .max_frame_rate(FrameRate::from_hz(settings.max_fps))
            .scene_change_detect(false)
            // Rate control can only hold the bitrate if it may skip frames;
            // skips come back as `Ok(None)` and the engine counts them.
            .skip_frames(true)
            .intra_frame_period(IntraFramePeriod::from_num_frames(0));
        let inner = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| Error::codec(format!("h264 encoder: {e}")))?;
        Ok(H264Encoder {
            inner,
            settings,
            applied_bps: settings.bitrate_bps,
            started: false,
            force_idr: false,
        })
    }

    pub fn settings(&self) -> H264Settings {
        self.settings
    }

    /// Makes the next encoded frame an IDR.
    pub fn request_keyframe(&mut self) {
        self.force_idr = true;
    }

    /// Changes the target bitrate; applied from the next frame.
    pub fn set_bitrate(&mut self, bps: u32) -> Result<()> {
        check_bitrate(bps)?;
        self.settings.bitrate_bps = bps;
        if self.started {
            self.apply_bitrate()?;
        }
        Ok(())
    }

    fn apply_bitrate(&mut self) -> Result<()> {
        let (cur, new) = (self.applied_bps as i32, self.settings.bitrate_bps as i32);
        if cur == new {
            return Ok(());
        }
        let mut max = SBitrateInfo {
            iLayer: SPATIAL_LAYER_0,
            iBitrate: new,
        };
        let mut target = SBitrateInfo {
            iLayer: SPATIAL_LAYER_ALL,
            iBitrate: new,
        };
        // SAFETY: the encoder is initialised (a frame was encoded) and both
        // option structs live across the calls; set_option copies them.
        let codes = unsafe {
            let raw = self.inner.raw_api();
            let set = |opt, p: &mut SBitrateInfo| {
                raw.set_option(opt, (p as *mut SBitrateInfo).cast::<c_void>())
            };
            // The layer's maximum must never sit below its target.
            if new > cur {
                [
                    set(ENCODER_OPTION_MAX_BITRATE, &mut max),
                    set(ENCODER_OPTION_BITRATE, &mut target),
                ]
            } else {
                [
                    set(ENCODER_OPTION_BITRATE, &mut target),
                    set(ENCODER_OPTION_MAX_BITRATE, &mut max),
                ]
            }
        };
        if let Some(code) = codes.iter().find(|&&c| c != 0) {
            return Err(Error::codec(format!(
                "h264 set bitrate {new}: openh264 code {code}"
            )));
        }
        self.applied_bps = new as u32;
        Ok(())
    }

    /// Encodes one frame whose size must match the settings. `pts_ms` is the
    /// presentation time (rate control uses it). Returns `None` when the rate
    /// controller skipped the frame.
    pub fn encode(&mut self, frame: &VideoFrame, pts_ms: u64) -> Result<Option<H264Frame>> {
        if (frame.width, frame.height) != (self.settings.width, self.settings.height) {
            return Err(Error::invalid_argument(format!(
                "frame is {}x{}, encoder expects {}x{}",
                frame.width, frame.height, self.settings.width, self.settings.height
            )));
        }
        if self.started {
            self.apply_bitrate()?;
        }
        if std::mem::take(&mut self.force_idr) {
            self.inner.force_intra_frame();
        }
        let (w, h) = (frame.width as usize, frame.height as usize);
        let src = YUVSlices::new((frame.y(), frame.u(), frame.v()), (w, h), (w, w / 2, w / 2));
        let bitstream = self
            .inner
            .encode_at(&src, Timestamp::from_millis(pts_ms))
            .map_err(|e| Error::codec(format!("h264 encode: {e}")))?;
        let frame_type = bitstream.frame_type();
        let data = bitstream.to_vec();
        if !self.started {
            self.started = true;
            self.apply_bitrate()?;
        }
        if frame_type == FrameType::Skip || data.is_empty() {
            return Ok(None);
        }
        Ok(Some(H264Frame {
            keyframe: frame_type == FrameType::IDR,
            data,
        }))
    }
}

/// H.264 access units in, I420 frames out.
pub struct H264Decoder {
    inner: Decoder,
}

impl H264Decoder {
    pub fn new() -> Result<Self> {
        let inner = Decoder::new().map_err(|e| Error::codec(format!("h264 decoder: {e}")))?;
        Ok(H264Decoder { inner })
    }

    /// Decodes one access unit. `Ok(None)` means no picture yet (e.g. only
    /// parameter sets). Corrupt input or a missing reference is an error;
    /// the caller should then wait for (or request) an IDR.
    pub fn decode(&mut self, annexb: &[u8], capture_us: u64) -> Result<Option<VideoFrame>> {
        if annexb.is_empty() {
            return Err(Error::invalid_argument("empty h264 access unit"));
        }
        let decoded = match self.inner.decode(annexb) {
            Ok(Some(yuv)) => yuv,
            Ok(None) => return Ok(None),
            Err(e) => return Err(Error::codec(format!("h264 decode: {e}"))),
        };
        let (w, h) = decoded.dimensions();
        let (w, h) = (w & !1, h & !1);
        if w == 0 || h == 0 {
            return Ok(None);
        }
        let (sy, su, sv) = decoded.strides();
        let mut out = Vec::with_capacity(VideoFrame::i420_len(w as u32, h as u32));
        for (plane, stride, pw, ph) in [
            (decoded.y(), sy, w, h),
            (decoded.u(), su, w / 2, h / 2),
            (decoded.v(), sv, w / 2, h / 2),
        ] {
            for r in 0..ph {
                let row = plane
                    .get(r * stride..r * stride + pw)
                    .ok_or_else(|| Error::codec("h264 decoder returned a short plane"))?;
                out.extend_from_slice(row);
            }
        }
        Ok(Some(VideoFrame::new(w as u32, h as u32, out, capture_us)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::psnr_i420;
    use crate::devices::pattern::{self, Stamp};

    fn pattern_frame(w: u32, h: u32, n: u32) -> VideoFrame {
        let mut buf = vec![0; VideoFrame::i420_len(w, h)];
        pattern::render(
            w,
            h,
            Stamp {
                frame_number: n,
                capture_us: n as u64 * 33_333,
            },
            &mut buf,
        );
        VideoFrame::new(w, h, buf, n as u64 * 33_333)
    }

    #[test]
    fn encodes_idr_first_then_p_frames_and_decodes_faithfully() {
        let s = H264Settings {
            width: 320,
            height: 180,
            max_fps: 30.0,
            bitrate_bps: 400_000,
        };
        let mut enc = H264Encoder::new(s).unwrap();
        let mut dec = H264Decoder::new().unwrap();
        let mut keys = Vec::new();
        for n in 0..60 {
            let src = pattern_frame(320, 180, n);
            let out = enc
                .encode(&src, n as u64 * 33)
                .unwrap()
                .expect("no skipped frames");
            assert_eq!(out.keyframe, is_keyframe(&out.data));
            keys.push(out.keyframe);
            let got = dec
                .decode(&out.data, 0)
                .unwrap()
                .expect("a picture per frame");
            let stamp =
                pattern::read_stamp(got.width, got.height, got.y(), got.y_stride()).unwrap();
            assert_eq!(stamp.frame_number, n);
            assert!(psnr_i420(&src, &got) > 32.0);
        }
        assert!(keys[0]);
        assert_eq!(
            keys.iter().filter(|&&k| k).count(),
            1,
            "no IDR besides the first: {keys:?}"
        );
    }

    #[test]
    fn forced_idr_and_bitrate_changes_take_effect() {
        // Noisy frames: content that uses every bit it is given.
        let mut rng = fastrand::Rng::with_seed(5);
        let mut noisy = |n: u32| {
            let f = pattern_frame(320, 180, n);
            let data: Vec<u8> = f
                .data
                .iter()
                .map(|&p| p.saturating_add(rng.u8(..40)))
                .collect();
            VideoFrame::new(320, 180, data, 0)
        };
        let s = H264Settings {
            width: 320,
            height: 180,
            max_fps: 30.0,
            bitrate_bps: 100_000,
        };
        let mut enc = H264Encoder::new(s).unwrap();
        let mut bytes = [0usize; 2];
        for n in 0..120u32 {
            if n == 60 {
                enc.set_bitrate(800_000).unwrap();
            }
            if n == 30 {
                enc.request_keyframe();
            }
            let Some(out) = enc.encode(&noisy(n), n as u64 * 33).unwrap() else {
                assert!(n != 0 && n != 30, "frame {n}: an IDR is never skipped");
                continue;
            };
            assert_eq!(out.keyframe, n == 0 || n == 30, "frame {n}");
            match n {
                35..60 => bytes[0] += out.data.len(),
                95..120 => bytes[1] += out.data.len(),
                _ => {}
            }
        }
        assert!(
            bytes[1] > bytes[0] * 3,
            "raising the bitrate 8x must grow the output: {bytes:?}"
        );
        assert!(enc.set_bitrate(1).is_err());
    }

    #[test]
    fn corrupt_input_is_an_error_and_the_next_idr_recovers() {
        let s = H264Settings {
            width: 320,
            height: 180,
            max_fps: 30.0,
            bitrate_bps: 300_000,
        };
        let mut enc = H264Encoder::new(s).unwrap();
        let mut dec = H264Decoder::new().unwrap();
        let mut frames: Vec<H264Frame> = (0..10)
            .map(|n| {
                enc.encode(&pattern_frame(320, 180, n), n as u64 * 33)
                    .unwrap()
                    .unwrap()
            })
            .collect();
        // Garbage, truncated and reference-less input.
        let garbage: Vec<u8> = [0, 0, 0, 1, 0x65]
            .into_iter()
            .chain((0..500).map(|i| (i * 37 % 251) as u8))
            .collect();
        assert!(dec.decode(&garbage, 0).is_err());
        assert!(dec.decode(&[], 0).is_err());
        assert!(dec.decode(&frames[3].data, 0).is_err() || dec.decode(&frames[4].data, 0).is_err());
        enc.request_keyframe();
        frames.push(
            enc.encode(&pattern_frame(320, 180, 10), 330)
                .unwrap()
                .unwrap(),
        );
        assert!(frames[10].keyframe);
        let got = dec
            .decode(&frames[10].data, 0)
            .unwrap()
            .expect("IDR decodes");
        assert_eq!(
            pattern::read_stamp(320, 180, got.y(), 320)
                .unwrap()
                .frame_number,
            10
        );
        let next = enc
            .encode(&pattern_frame(320, 180, 11), 363)
            .unwrap()
            .unwrap();
        assert!(dec.decode(&next.data, 0).unwrap().is_some());
    }

    #[test]
    fn wrong_sizes_are_rejected() {
        assert!(H264Encoder::new(H264Settings {
            width: 321,
            ..Default::default()
        })
        .is_err());
        assert!(H264Encoder::new(H264Settings {
            max_fps: 0.0,
            ..Default::default()
        })
        .is_err());
        let mut enc = H264Encoder::new(H264Settings::default()).unwrap();
        assert!(enc.encode(&pattern_frame(320, 180, 0), 0).is_err());
    }
}
