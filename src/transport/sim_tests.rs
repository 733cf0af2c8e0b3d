//! Two peers on a virtual clock: two [`PeerConnection`]s (str0m plus
//! libmedia's repair and redundancy policies) joined by a seeded link
//! with loss, delay, jitter and a bottleneck queue, each side steering a
//! synthetic encoder with the engine's [`RateController`] and answering
//! keyframe requests through its [`KeyframePolicy`]. What each side
//! receives plays out as the engine plays it: audio through the
//! [`JitterBuffer`] pulled by a device that keeps 40 ms queued, video
//! through the [`RenderScheduler`] (`Balanced`), whose show times a
//! [`FreezeMeter`] counts freezes in. A 30 s call runs in well under a
//! second of test time (str0m's crypto makes packet sizes, and with them
//! the call, vary from run to run for the same seed).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use super::peer::{PeerConnection, PeerOutput};
use super::webrtc::{ConnectionState, Role, Signal, WebRtcConfig};
use super::Feedback;
use crate::clock::Clock;
use crate::control::{KeyframePolicy, PacerGate, RateController, RED_FRAMES_PER_PACKET};
use crate::frame::{EncodedFrame, MediaKind};
use crate::jitter::video::{FreezeMeter, RenderScheduler, VideoDelay};
use crate::jitter::{JitterBuffer, JitterConfig, Playout, Stretch};

const FPS: u64 = 30;
const AUDIO_FRAME: Duration = Duration::from_millis(20);
const AUDIO_BYTES: usize = 80;
/// The engine's defaults: video 100 kbit/s – 2.5 Mbit/s, audio 32 kbit/s.
const VIDEO_MIN_BPS: u32 = 100_000;
const VIDEO_MAX_BPS: u32 = 2_500_000;
const AUDIO_BPS: u32 = 32_000;
/// An IDR is this many times a P-frame at the same target (the bench's
/// 720p clip: a 100-125 kB IDR at 2.5 Mbit/s, 10 kB P-frames).
const IDR_FRAMES: usize = 10;
/// A receiver that lost a frame for good asks again this often.
const PLI_INTERVAL: Duration = Duration::from_millis(300);
/// The audio device is topped up below 40 ms queued, and a missing packet
/// may be waited for while 20 ms are (as the engine's playout does). It
/// is looked at every `PLAYOUT_STEP`.
const PLAYOUT_LOW_WATER_US: u64 = 40_000;
const PLAYOUT_STEP: Duration = Duration::from_millis(2);

/// One direction of the path.
#[derive(Clone, Copy)]
struct LinkConfig {
    loss: f64,
    delay: Duration,
    jitter: Duration,
    /// Bottleneck rate in bits per second (None: unlimited), and from when
    /// it changes to the second value.
    rate_bps: Option<u64>,
    step: Option<(Duration, u64)>,
    /// A packet that would wait longer than this in the queue is dropped.
    queue: Duration,
}

impl LinkConfig {
    fn delay_ms(ms: u64) -> Self {
        LinkConfig {
            loss: 0.0,
            delay: Duration::from_millis(ms),
            jitter: Duration::ZERO,
            rate_bps: None,
            step: None,
            queue: Duration::from_millis(400),
        }
    }
}

struct Packet {
    source: SocketAddr,
    destination: SocketAddr,
    data: Vec<u8>,
}

struct Link {
    config: LinkConfig,
    rng: fastrand::Rng,
    start: Instant,
    /// When the bottleneck has sent everything queued so far.
    busy_until: Instant,
    next_id: u64,
    in_flight: BinaryHeap<Reverse<(Instant, u64)>>,
    packets: std::collections::HashMap<u64, Packet>,
    /// The longest a packet waited in the queue, per second of the call,
    /// and per tenth of a second.
    queue_ms: Vec<u64>,
    queue_ms_tenths: Vec<u64>,
    /// Bytes offered to the link, per second of the call.
    offered: Vec<u64>,
}

impl Link {
    fn new(config: LinkConfig, seed: u64, start: Instant) -> Self {
        Link {
            config,
            rng: fastrand::Rng::with_seed(seed),
            start,
            busy_until: start,
            next_id: 0,
            in_flight: BinaryHeap::new(),
            packets: Default::default(),
            queue_ms: Vec::new(),
            queue_ms_tenths: Vec::new(),
            offered: Vec::new(),
        }
    }

    fn rate(&self, now: Instant) -> Option<u64> {
        match self.config.step {
            Some((at, bps)) if now >= self.start + at => Some(bps),
            _ => self.config.rate_bps,
        }
    }

    fn send(&mut self, now: Instant, packet: Packet) {
        let second = (now - self.start).as_secs() as usize;
        *slot(&mut self.offered, second) += packet.data.len() as u64 + 28;
        if self.rng.f64() < self.config.loss {
            return;
        }
        let mut leaves = now;
        if let Some(bps) = self.rate(now) {
            let start = self.busy_until.max(now);
            let wait = start - now;
            if wait > self.config.queue {
                return; // tail drop
            }
            let ms = wait.as_millis() as u64;
            let most = slot(&mut self.queue_ms, second);
            *most = (*most).max(ms);
            let tenth = (now - self.start).as_millis() as usize / 100;
            let most = slot(&mut self.queue_ms_tenths, tenth);
            *most = (*most).max(ms);
            let bits = (packet.data.len() as u64 + 28) * 8;
            leaves = start + Duration::from_micros(bits * 1_000_000 / bps);
            self.busy_until = leaves;
        }
        let jitter = if self.config.jitter.is_zero() {
            Duration::ZERO
        } else {
            Duration::from_micros(self.rng.u64(0..=self.config.jitter.as_micros() as u64))
        };
        let arrives = leaves + self.config.delay + jitter;
        self.next_id += 1;
        self.in_flight.push(Reverse((arrives, self.next_id)));
        self.packets.insert(self.next_id, packet);
    }

    fn next_arrival(&self) -> Option<Instant> {
        self.in_flight.peek().map(|r| r.0 .0)
    }

    fn arrived(&mut self, now: Instant) -> Option<Packet> {
        let Reverse((at, id)) = *self.in_flight.peek()?;
        if at > now {
            return None;
        }
        self.in_flight.pop();
        self.packets.remove(&id)
    }
}

/// What one side received, per second of the call.
#[derive(Default, Debug, Clone)]
struct Received {
    audio: u64,
    video: u64,
    /// Video frames decodable: a keyframe, or contiguous after one.
    decodable: u64,
    keyframes: u64,
    /// Per second: decodable video frames.
    fps: Vec<u64>,
    /// Largest gap between two decodable frames once video flowed.
    longest_freeze: Duration,
    /// Largest |capture time on our clock - the sender's capture time|.
    capture_error_us: u64,
    capture_known: u64,
    /// Per second: the longest a video frame took from its encoder to us.
    video_delay_ms: Vec<u64>,
    /// Times the audio device found nothing queued.
    device_starved: u64,
    /// Audio frames whose payload is not the frame their timestamp names.
    misplaced_audio: u64,
}

/// One side: the connection, its synthetic encoders and what it received.
struct Side {
    peer: PeerConnection,
    clock: Clock,
    timeout: Instant,
    rate: RateController,
    keyframes: KeyframePolicy,
    keyframe_wanted: bool,
    rtt_us: u64,
    audio_seq: u32,
    video_seq: u32,
    next_audio: Instant,
    next_video: Instant,
    connected_at: Option<Instant>,
    /// The latest state and stats the connection reported.
    state: ConnectionState,
    redundancy: Option<bool>,
    /// Encoder targets over the call: (time since start, bps).
    targets: Vec<(Duration, u32)>,
    /// The transport's bandwidth estimates: (time since start, bps).
    estimates: Vec<(Duration, u64)>,
    rtts: Vec<(Duration, u64)>,
    /// What each stats report gave: (time, latest RTT, largest RTT since
    /// the report before).
    reported_rtts: Vec<(Duration, Option<u64>, Option<u64>)>,
    received: Received,
    /// Receiver: waiting for a keyframe since a frame was lost for good.
    broken: bool,
    last_pli: Option<Instant>,
    last_decodable: Option<Instant>,
    keyframes_sent: u64,
    /// The video target at which a ladder would step up (None: at the
    /// top, or no ladder).
    step_up_bps: Option<u32>,
    /// Frames are skipped until then: the pacer is behind.
    pacer: PacerGate,
    skip_until: u64,
    /// Audio playout: the jitter buffer, what the device has queued, and
    /// when that was last brought up to date (None: not started).
    jitter: JitterBuffer,
    device_queued_us: u64,
    device_at: Option<Instant>,
    /// Video playout: when each decodable frame is shown.
    scheduler: RenderScheduler,
    freeze_meter: FreezeMeter,
    last_shown_us: u64,
}

impl Side {
    fn new(role: Role, addr: SocketAddr, start: Instant, wall: SystemTime) -> Self {
        let config = WebRtcConfig {
            start_bitrate_bps: VIDEO_MAX_BPS + AUDIO_BPS,
            min_bitrate_bps: VIDEO_MIN_BPS + AUDIO_BPS,
            max_bitrate_bps: VIDEO_MAX_BPS + AUDIO_BPS,
            ..WebRtcConfig::default()
        };
        let clock = Clock::starting_at(start, wall);
        let peer = PeerConnection::new(config, role, clock, &[addr], start).expect("peer");
        Side {
            peer,
            clock,
            timeout: start,
            rate: RateController::new(VIDEO_MIN_BPS, VIDEO_MAX_BPS, VIDEO_MAX_BPS, AUDIO_BPS),
            keyframes: KeyframePolicy::default(),
            keyframe_wanted: true,
            rtt_us: 0,
            audio_seq: 0,
            video_seq: 0,
            next_audio: start,
            next_video: start,
            connected_at: None,
            state: ConnectionState::Connecting,
            redundancy: None,
            targets: Vec::new(),
            estimates: Vec::new(),
            rtts: Vec::new(),
            reported_rtts: Vec::new(),
            received: Received::default(),
            broken: false,
            last_pli: None,
            last_decodable: None,
            keyframes_sent: 0,
            step_up_bps: None,
            pacer: PacerGate::default(),
            skip_until: 0,
            jitter: JitterBuffer::new(JitterConfig::default()),
            device_queued_us: 0,
            device_at: None,
            scheduler: RenderScheduler::new(VideoDelay::Balanced),
            freeze_meter: FreezeMeter::default(),
            last_shown_us: 0,
        }
    }

    /// The engine's part: feedback steers the encoder target (as
    /// `engine::remote` and the audio playout's `apply_estimates` do).
    fn feedback(&mut self, now: Instant, start: Instant, f: Feedback) {
        let us = self.clock.us_at(now);
        match f {
            Feedback::KeyframeRequest | Feedback::KeyframeNeeded => self.keyframe_wanted = true,
            Feedback::BitrateEstimate(bps) => {
                let red = if self.redundancy == Some(false) {
                    1
                } else {
                    RED_FRAMES_PER_PACKET as u32
                };
                self.rate.set_audio_bps(AUDIO_BPS * red + 24_000);
                self.rate.on_estimate(us, bps as u64);
                self.estimates.push((now - start, bps as u64));
            }
            Feedback::Connection(state) => {
                self.state = state;
                if state == ConnectionState::Connected && self.connected_at.is_none() {
                    self.connected_at = Some(now);
                }
            }
            Feedback::NetworkStats(n) => {
                if let Some(rtt) = n.path_rtt_us {
                    self.rate.on_path_rtt(us, rtt);
                }
                if let Some(loss) = n.egress_loss {
                    self.rate.on_loss(us, loss);
                }
                self.redundancy = Some(n.audio_redundancy);
                self.reported_rtts
                    .push((now - start, n.rtt_us, n.rtt_max_us));
            }
            Feedback::RoundTrip(rt) => {
                self.rtt_us = rt.rtt_us;
                self.rtts.push((now - start, rt.rtt_us));
                self.rate.on_round_trip(us, rt);
            }
            Feedback::Pacer {
                wait_us,
                estimate_bps,
            } => {
                let verdict = self.pacer.on_report(us, 0, wait_us, estimate_bps);
                self.skip_until = verdict.skip_until_us;
                self.rate.on_pacer_budget(us, verdict.budget_bps);
            }
            Feedback::NacksSent(_) => {}
        }
        self.targets.push((now - start, self.rate.target()));
        // As the engine does: the path is searched for the next rung's
        // rate where it may have room.
        let wanted = self.rate.wanted_estimate(us, self.step_up_bps);
        self.peer.set_wanted_bps(wanted);
    }

    /// A frame from the peer: counted, and a receiver that lost a frame
    /// for good asks for a keyframe.
    fn media(&mut self, now: Instant, start: Instant, frame: EncodedFrame) {
        let r = &mut self.received;
        let second = (now - start).as_secs() as usize;
        let us = self.clock.us_at(now);
        // A video frame's capture time on the sender's clock (its RTP
        // timestamp, at 90 kHz).
        let sent = frame.timestamp * 100 / 9;
        if frame.capture_known {
            r.capture_known += 1;
            if frame.kind == MediaKind::Video {
                r.capture_error_us = r.capture_error_us.max(frame.capture_us.abs_diff(sent));
            }
        }
        match frame.kind {
            MediaKind::Audio => {
                r.audio += 1;
                let stamped = u32::from_be_bytes(frame.data[..4].try_into().unwrap());
                if stamped as u64 * 960 != frame.timestamp {
                    r.misplaced_audio += 1;
                }
                self.jitter.insert(frame.timestamp, frame.data, us);
                self.device_at.get_or_insert(now);
            }
            MediaKind::Video => {
                r.video += 1;
                let most = slot(&mut r.video_delay_ms, second);
                *most = (*most).max(us.saturating_sub(sent) / 1000);
                // The transport numbers frames, skipping one at a gap.
                let gap = frame.seq != self.video_seq as u64 + 1;
                self.video_seq = frame.seq as u32;
                let was_broken = self.broken;
                if frame.keyframe {
                    r.keyframes += 1;
                    self.broken = false;
                } else if gap {
                    self.broken = true;
                }
                if !self.broken {
                    // Shown as the engine shows it: at its time in the
                    // scheduler's delay, in order.
                    if was_broken || frame.keyframe {
                        self.scheduler.resync();
                    }
                    let due = self.scheduler.on_frame(sent, us);
                    self.last_shown_us = due.max(self.last_shown_us);
                    self.freeze_meter.on_shown(self.last_shown_us);
                    r.decodable += 1;
                    *slot(&mut r.fps, second) += 1;
                    if let Some(last) = self.last_decodable {
                        r.longest_freeze = r.longest_freeze.max(now - last);
                    }
                    self.last_decodable = Some(now);
                }
            }
        }
    }

    /// The audio device plays until `now`, and is topped up from the
    /// jitter buffer as the engine's playout does: a frame played shorter
    /// or longer adds 15 or 25 ms instead of 20.
    fn play(&mut self, now: Instant) {
        let Some(at) = self.device_at else {
            return;
        };
        let elapsed = (now - at).as_micros() as u64;
        self.device_at = Some(now);
        if elapsed > self.device_queued_us {
            self.received.device_starved += 1;
        }
        self.device_queued_us = self.device_queued_us.saturating_sub(elapsed);
        while self.device_queued_us < PLAYOUT_LOW_WATER_US {
            let may_wait = self.device_queued_us >= PLAYOUT_LOW_WATER_US / 2;
            let frame_us = match self.jitter.pop(may_wait) {
                Playout::Wait => break,
                Playout::Packet(_) => match self.jitter.stretch() {
                    Stretch::Shorten => 15_000,
                    Stretch::Lengthen => 25_000,
                    _ => 20_000,
                },
                Playout::Idle | Playout::Fec(_) | Playout::Conceal => 20_000,
            };
            self.device_queued_us += frame_us;
        }
    }

    fn request_keyframe_if_broken(&mut self, now: Instant) {
        if self.broken && self.last_pli.is_none_or(|t| now - t >= PLI_INTERVAL) {
            self.peer.request_keyframe();
            self.last_pli = Some(now);
        }
    }
}

/// The entry for interval `i` (a second, a tenth) of a per-interval
/// series, which grows with zeros to reach it.
fn slot(series: &mut Vec<u64>, i: usize) -> &mut u64 {
    if series.len() <= i {
        series.resize(i + 1, 0);
    }
    &mut series[i]
}

/// Annex B H.264 of about `bytes`: SPS, PPS and an IDR slice for a
/// keyframe, one slice otherwise. The payload bytes never form a start code.
fn h264(bytes: usize, keyframe: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 24);
    if keyframe {
        out.extend_from_slice(&[0, 0, 0, 1, 0x67, 0x42, 0xe0, 0x1f, 0xda, 0x01, 0x40]);
        out.extend_from_slice(&[0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80]);
        out.extend_from_slice(&[0, 0, 0, 1, 0x65]);
    } else {
        out.extend_from_slice(&[0, 0, 0, 1, 0x41]);
    }
    out.resize(bytes.max(out.len() + 1), 0xaa);
    out
}

/// A call between `a` (the offerer) and `b`, the links from a to b and
/// back.
struct Call {
    start: Instant,
    now: Instant,
    sides: [Side; 2],
    links: [Link; 2],
    frames_sent: [u64; 2],
    audio_sent: [u64; 2],
    /// The most the encoders produce, whatever the target.
    content_bps: Option<u32>,
}

impl Call {
    fn new(a_to_b: LinkConfig, b_to_a: LinkConfig, seed: u64) -> Self {
        let (start, wall) = crate::clock::anchor();
        let a: SocketAddr = "10.99.0.1:5000".parse().unwrap();
        let b: SocketAddr = "10.99.0.2:5000".parse().unwrap();
        Call {
            start,
            now: start,
            sides: [
                Side::new(Role::Offerer, a, start, wall),
                Side::new(Role::Answerer, b, start, wall),
            ],
            links: [
                Link::new(a_to_b, seed, start),
                Link::new(b_to_a, seed.wrapping_add(1), start),
            ],
            frames_sent: [0, 0],
            audio_sent: [0, 0],
            content_bps: None,
        }
    }

    /// Runs every output of side `i` until it waits.
    fn drain(&mut self, i: usize) {
        let (now, start) = (self.now, self.start);
        loop {
            match self.sides[i].peer.poll_output() {
                PeerOutput::Timeout(t) => {
                    self.sides[i].timeout = t;
                    return;
                }
                PeerOutput::Closed => {
                    self.sides[i].timeout = now + Duration::from_secs(3600);
                    return;
                }
                PeerOutput::Transmit(t) => self.links[i].send(
                    now,
                    Packet {
                        source: t.source,
                        destination: t.destination,
                        data: t.contents.to_vec(),
                    },
                ),
                // Signaling is instant: what a server adds is not modelled.
                PeerOutput::Signal(s) => {
                    self.sides[1 - i].peer.handle_signal(s);
                    self.drain(1 - i);
                }
                PeerOutput::Feedback(f) => self.sides[i].feedback(now, start, f),
                PeerOutput::Media(frame) => self.sides[i].media(now, start, frame),
            }
        }
    }

    /// Side `i`'s encoders produce what is due at `now`.
    fn encode(&mut self, i: usize) {
        let now = self.now;
        let side = &mut self.sides[i];
        if now >= side.next_audio {
            side.next_audio += AUDIO_FRAME;
            if side.peer.is_connected() {
                side.audio_seq += 1;
                self.audio_sent[i] += 1;
                let frame = EncodedFrame {
                    kind: MediaKind::Audio,
                    seq: side.audio_seq as u64,
                    timestamp: side.audio_seq as u64 * 960,
                    capture_us: side.clock.us_at(now),
                    encoded_us: side.clock.us_at(now),
                    capture_known: true,
                    keyframe: false,
                    data: {
                        let mut d = vec![0x78; AUDIO_BYTES];
                        d[..4].copy_from_slice(&side.audio_seq.to_be_bytes());
                        d
                    },
                };
                side.peer.send(now, frame);
            }
        }
        if now >= side.next_video {
            side.next_video += Duration::from_micros(1_000_000 / FPS);
            let us = side.clock.us_at(now);
            // As the engine's encoder does, frames are skipped while the
            // pacer is far behind.
            if side.peer.is_connected() && us >= side.skip_until {
                let target = side.rate.target();
                let mut keyframe = false;
                if side.keyframe_wanted {
                    side.keyframe_wanted = false;
                    keyframe = side.keyframes_sent == 0 || side.keyframes.answer(us);
                }
                // The encoder meets the target, up to what the picture
                // needs (a real scene rarely needs the maximum).
                let needed = self.content_bps.unwrap_or(u32::MAX);
                let per_frame = (target.min(needed) as u64 / 8 / FPS) as usize;
                let bytes = if keyframe {
                    per_frame * IDR_FRAMES
                } else {
                    per_frame
                };
                if keyframe {
                    side.keyframes
                        .on_keyframe_sent(us, bytes, target, side.rtt_us);
                    side.keyframes_sent += 1;
                }
                let index = self.frames_sent[i];
                self.frames_sent[i] += 1;
                // As the engine stamps them: the capture time at 90 kHz
                // (frames skipped leave a gap in it).
                let frame = EncodedFrame {
                    kind: MediaKind::Video,
                    seq: index,
                    timestamp: us * 9 / 100,
                    capture_us: us,
                    encoded_us: us,
                    capture_known: true,
                    keyframe,
                    data: h264(bytes, keyframe),
                };
                side.peer.send(now, frame);
            }
        }
        side.request_keyframe_if_broken(now);
    }

    /// Runs the call for `length` of virtual time.
    fn run(&mut self, length: Duration) {
        self.drain(0);
        self.drain(1);
        let end = self.start + length;
        while self.now < end {
            for i in 0..2 {
                while let Some(p) = self.links[i].arrived(self.now) {
                    self.sides[1 - i].peer.handle_receive(
                        self.now,
                        p.source,
                        p.destination,
                        &p.data,
                    );
                    self.drain(1 - i);
                }
            }
            for i in 0..2 {
                self.sides[i].play(self.now);
                self.encode(i);
                if self.sides[i].timeout <= self.now {
                    self.sides[i].peer.handle_timeout(self.now);
                }
                self.drain(i);
            }
            let mut next = end;
            for i in 0..2 {
                let s = &self.sides[i];
                next = next.min(s.timeout).min(s.next_audio).min(s.next_video);
                if let Some(t) = self.links[i].next_arrival() {
                    next = next.min(t);
                }
                if s.broken {
                    next = next.min(self.now + PLI_INTERVAL);
                }
                if s.device_at.is_some() {
                    next = next.min(self.now + PLAYOUT_STEP);
                }
            }
            self.now = next.max(self.now + Duration::from_micros(100));
        }
    }
}

#[test]
fn clean_link_connects_and_carries_both_media() {
    let mut call = Call::new(LinkConfig::delay_ms(20), LinkConfig::delay_ms(20), 1);
    call.run(Duration::from_secs(12));
    for (i, side) in call.sides.iter().enumerate() {
        let connected = side.connected_at.expect("connected") - call.start;
        let r = &side.received;
        let sent_to_me = call.frames_sent[1 - i];
        println!(
            "side {i}: connected after {:?}, audio {} video {}/{} decodable {} keyframes {} \
             capture known {} error {} us, longest freeze {:?}, final target {}, red {:?}",
            connected,
            r.audio,
            r.video,
            sent_to_me,
            r.decodable,
            r.keyframes,
            r.capture_known,
            r.capture_error_us,
            r.longest_freeze,
            side.rate.target(),
            side.redundancy,
        );
        // ICE, DTLS and SRTP over a 40 ms round trip.
        assert!(connected < Duration::from_millis(500), "{connected:?}");
        assert_eq!(side.state, ConnectionState::Connected);
        // Every frame arrives, every video frame decodable.
        assert!(r.video + 2 >= sent_to_me, "{} of {sent_to_me}", r.video);
        assert_eq!(r.decodable, r.video);
        assert!(r.audio >= 500, "{}", r.audio);
        // The sender's capture time, through its sender reports, lands on
        // the receiver's clock (both clocks share the virtual epoch and
        // the wall clock's reading at it, as synchronised hosts do).
        assert!(r.capture_known > 100, "{}", r.capture_known);
        assert!(r.capture_error_us <= 2_000, "{}", r.capture_error_us);
        // With no loss, RED turns off after 10 s.
        assert_eq!(side.redundancy, Some(false));
        // Unlimited path: the target climbs to the configured maximum.
        assert_eq!(side.rate.target(), VIDEO_MAX_BPS);
    }
}

/// Every output until the connection waits.
fn outputs(peer: &mut PeerConnection) -> Vec<PeerOutput> {
    let mut out = Vec::new();
    loop {
        match peer.poll_output() {
            PeerOutput::Timeout(_) | PeerOutput::Closed => return out,
            o => out.push(o),
        }
    }
}

#[test]
fn an_unanswered_offer_fails_at_the_connect_timeout() {
    let start = Instant::now();
    let config = WebRtcConfig {
        connect_timeout: Duration::from_secs(5),
        ..WebRtcConfig::default()
    };
    let addr: SocketAddr = "10.99.0.1:5000".parse().unwrap();
    let mut a = PeerConnection::new(
        config,
        Role::Offerer,
        Clock::starting_at(start, SystemTime::now()),
        &[addr],
        start,
    )
    .unwrap();
    let first = outputs(&mut a);
    assert!(
        matches!(first.first(), Some(PeerOutput::Signal(Signal::Offer(sdp)))
            if sdp.contains("m=audio") && sdp.contains("m=video")),
        "{first:?}"
    );
    let failed = |o: &Vec<PeerOutput>| {
        o.iter().any(|o| {
            matches!(
                o,
                PeerOutput::Feedback(Feedback::Connection(ConnectionState::Failed))
            )
        })
    };
    assert!(!failed(&first));
    // The deadline it asks to be woken at is never past the timeout.
    let PeerOutput::Timeout(t) = a.poll_output() else {
        panic!("no timeout")
    };
    assert!(t <= start + Duration::from_secs(5));
    a.handle_timeout(start + Duration::from_millis(4_900));
    assert!(!failed(&outputs(&mut a)));
    a.handle_timeout(start + Duration::from_millis(5_100));
    assert!(failed(&outputs(&mut a)));
    // Said once.
    a.handle_timeout(start + Duration::from_secs(6));
    assert!(!failed(&outputs(&mut a)));
}

/// Prints both sides' summaries and the a → b link's queue and load per
/// second; returns the kbit/s offered to that link per second.
fn print_first_link(call: &Call) -> Vec<u64> {
    let link = &call.links[0];
    let kbps: Vec<u64> = link.offered.iter().map(|b| b * 8 / 1000).collect();
    println!("{}\n{}", report(call, 0), report(call, 1));
    println!("queue ms per second: {:?}", link.queue_ms);
    println!("offered kbit/s per second: {kbps:?}");
    kbps
}

/// The summary line of one side.
fn report(call: &Call, i: usize) -> String {
    let side = &call.sides[i];
    let r = &side.received;
    let a = side.jitter.stats();
    format!(
        "side {i}: audio {} video {}/{} decodable {} keyframes {} sent {} longest freeze {:?} \
         fps {:?} target {} red {:?}\n  shown: {} freezes ({} ms); played: audio {} fec {} \
         concealed {} (underruns {}) late {} device starved {}",
        r.audio,
        r.video,
        call.frames_sent[1 - i],
        r.decodable,
        r.keyframes,
        side.keyframes_sent,
        r.longest_freeze,
        r.fps,
        side.rate.target(),
        side.redundancy,
        side.freeze_meter.freezes(),
        side.freeze_meter.frozen_us() / 1000,
        a.played,
        a.fec_recovered,
        a.concealed,
        a.underruns,
        a.late,
        r.device_starved,
    )
}

#[test]
fn twenty_percent_loss_is_repaired() {
    let lossy = LinkConfig {
        loss: 0.2,
        ..LinkConfig::delay_ms(25)
    };
    let mut call = Call::new(lossy, LinkConfig::delay_ms(25), 7);
    call.run(Duration::from_secs(20));
    println!("{}\n{}", report(&call, 0), report(&call, 1));
    // ICE and DTLS get through 20 % loss by retransmitting: DTLS resends a
    // flight after 250 ms, then 0.5, 1, 2 s… (measured 0.3-4.1 s over 24
    // runs, median 1.5 s; with RFC 6347's 1 s first resend it took
    // 3.7-7.7 s, median 6.7 s). 8 s is five resends of one flight in a row.
    let connected = call.sides[1].connected_at.expect("connected") - call.start;
    println!(
        "connected after {connected:?}; audio {} of {}; video delay ms per second {:?}",
        call.sides[1].received.audio, call.audio_sent[0], call.sides[1].received.video_delay_ms
    );
    assert!(connected < Duration::from_secs(8), "{connected:?}");
    // Towards the lossy side's peer: NACK repairs nearly every frame (str0m's
    // default repair share of 15 % would leave most frames to keyframes).
    let (sent, r) = (call.frames_sent[0], &call.sides[1].received);
    assert!(sent > 100, "{sent}");
    assert!(
        r.decodable * 100 >= sent * 80,
        "{} of {sent} decodable",
        r.decodable
    );
    assert!(r.keyframes <= 8, "{} keyframes", r.keyframes);
    assert_eq!(r.misplaced_audio, 0, "of {} audio frames", r.audio);
    // RED: a frame is lost only when four in a row are (0.16 %); those in
    // flight at the end are missing too.
    let audio = call.audio_sent[0];
    assert!(
        r.audio * 100 >= audio * 95,
        "{} of {audio} audio frames",
        r.audio
    );
    // Frames arrive on time once the start's backlog is gone: from 4 s
    // after connecting few seconds have a frame more than 700 ms late
    // (none in 4 runs with str0m's loss-based estimate off: at most 451
    // ms, and up to 705 ms in the seconds before). Frames are skipped
    // while the pacer is more than 300 ms behind: when str0m's loss-based
    // estimate still took the pacer from 2.5 Mbit/s to a few hundred
    // kbit/s in the first seconds, 0-4 such seconds in 40 runs; without
    // the skipping, 6-11 in 28 of 40 runs, up to 2.4 s late.
    let from = (call.sides[1].connected_at.expect("connected") - call.start).as_secs() + 4;
    let late: Vec<u64> = r
        .video_delay_ms
        .iter()
        .skip(from as usize)
        .copied()
        .collect();
    assert!(late.iter().filter(|&&ms| ms > 700).count() <= 6, "{late:?}");
    // As played: concealment (what neither RED nor FEC brought back)
    // stays under 2 % of the frames (measured 2-8 of ~900).
    let a = call.sides[1].jitter.stats();
    let frames = a.played + a.fec_recovered + a.concealed;
    assert!(a.concealed * 50 <= frames, "{a:?}");
    // RED on towards the lossy path, off on the clean one.
    assert_eq!(call.sides[0].redundancy, Some(true));
    assert_eq!(call.sides[1].redundancy, Some(false));
    // The clean direction is untouched.
    let back = &call.sides[0].received;
    assert!(back.decodable + 2 >= call.frames_sent[1], "{back:?}");
}

#[test]
fn a_capacity_step_is_followed_without_probing_into_the_queue() {
    let step = LinkConfig {
        rate_bps: Some(2_000_000),
        step: Some((Duration::from_secs(10), 500_000)),
        ..LinkConfig::delay_ms(20)
    };
    let mut call = Call::new(step, LinkConfig::delay_ms(20), 11);
    // The picture needs about 1.1 Mbit/s (the bench's 720p clip): the
    // encoder sends less than the estimate, and str0m probes above it.
    call.content_bps = Some(1_100_000);
    call.run(Duration::from_secs(30));
    let (link, kbps) = (&call.links[0], print_first_link(&call));
    let targets: Vec<(u64, u32)> = call.sides[0]
        .targets
        .iter()
        .map(|&(t, bps)| (t.as_millis() as u64, bps / 1000))
        .collect();
    println!(
        "queue ms per tenth of a second from 9.5 s: {:?}",
        &link.queue_ms_tenths[95..130]
    );
    // Before the step: no standing queue at 2 Mbit/s.
    assert!(
        link.queue_ms[3..10].iter().all(|&q| q < 60),
        "{:?}",
        link.queue_ms
    );
    // The target falls below the new capacity within a second: the first
    // round trip that shows the queue also reads the path's rate
    // (measured: 200 ms after the step).
    let under = targets
        .iter()
        .find(|&&(t, k)| t >= 10_000 && k < 500)
        .map(|&(t, _)| t);
    assert!(under.is_some_and(|t| t < 11_000), "{under:?}: {targets:?}");
    // The queue the step filled drains within 2 s (measured: 1.4 s; it
    // took 3 s when cuts started from the target, not from what was sent
    // and what the path carried) ...
    let drained = link.queue_ms_tenths[100..120].iter().position(|&q| q < 30);
    assert!(drained.is_some(), "{:?}", &link.queue_ms_tenths[100..120]);
    // ... and no probe refills it: every later second's longest wait is
    // short (probes at twice a desired rate of the configured maximum
    // queued 160-180 ms every few seconds).
    assert!(
        link.queue_ms[12..].iter().all(|&q| q < 120),
        "{:?}",
        link.queue_ms
    );
    // The round trip the sender measures comes back near the path's 40 ms.
    let late_rtt = call.sides[0]
        .rtts
        .iter()
        .filter(|(t, _)| *t >= Duration::from_secs(20))
        .map(|&(_, rtt)| rtt)
        .max();
    assert!(late_rtt.is_some_and(|r| r < 150_000), "{late_rtt:?}");
    // Over the last 10 s the link carries at least 70 % of its capacity
    // (measured ~84 %: the path's rate read from the queue is allowed at
    // once, however low the estimator restarts).
    let late: u64 = kbps[20..30].iter().sum::<u64>() / 10;
    assert!(late >= 350, "{late} kbit/s: {kbps:?}");
    // Video is back: the freeze around the step ends, every late second
    // plays at ≥ 25 fps.
    let r = &call.sides[1].received;
    assert!(
        r.longest_freeze < Duration::from_secs(2),
        "{:?}",
        r.longest_freeze
    );
    assert!(r.fps[12..29].iter().all(|&f| f >= 25), "{:?}", r.fps);
    // The stats reports (once a second) carry the round trip's peak,
    // measured ten times a second, not only its latest value.
    let side = &call.sides[0];
    let last_report = side.reported_rtts.last().expect("stats reports").0;
    let peak = side
        .rtts
        .iter()
        .filter(|(t, _)| *t <= last_report)
        .map(|&(_, rtt)| rtt)
        .max();
    let reported_peak = side.reported_rtts.iter().filter_map(|r| r.2).max();
    let reported_latest = side.reported_rtts.iter().filter_map(|r| r.1).max();
    assert_eq!(reported_peak, peak, "{:?}", side.reported_rtts);
    assert!(reported_latest <= peak);
}

#[test]
fn a_narrow_link_from_the_start_is_filled_without_a_standing_queue() {
    // 500 kbit/s from the first packet, with the engine's start at the
    // configured maximum (2.5 Mbit/s): the first second overfills it.
    let narrow = LinkConfig {
        rate_bps: Some(500_000),
        ..LinkConfig::delay_ms(20)
    };
    let mut call = Call::new(narrow, LinkConfig::delay_ms(20), 5);
    call.content_bps = Some(1_100_000);
    call.run(Duration::from_secs(30));
    let (link, kbps) = (&call.links[0], print_first_link(&call));
    // From 10 s the link carries at least 85 % of its capacity (measured
    // 95 %; 78 % when each cut was followed by a climb at 8 % a second
    // from its level) ...
    let late: u64 = kbps[10..30].iter().sum::<u64>() / 20;
    assert!(late >= 425, "{late} kbit/s: {kbps:?}");
    // ... without a standing queue: no second's longest wait above
    // 120 ms (measured ≤ 60 ms; a video frame's packets alone wait up to
    // 30 ms at this rate).
    assert!(
        link.queue_ms[10..].iter().all(|&q| q < 120),
        "{:?}",
        link.queue_ms
    );
    let r = &call.sides[1].received;
    assert!(r.fps[10..29].iter().all(|&f| f >= 25), "{:?}", r.fps);
}

#[test]
fn a_sender_below_its_estimate_looks_for_room_to_step_up() {
    // 0.5-0.8 Mbit/s for 10 s, then 3 Mbit/s. The picture needs 500
    // kbit/s at its rung (a ladder stepped down): what is sent never fills
    // the estimate, and only probes find the room.
    let late_target = |rate_bps: u64, step_up: Option<u32>| {
        let grows = LinkConfig {
            rate_bps: Some(rate_bps),
            step: Some((Duration::from_secs(10), 3_000_000)),
            ..LinkConfig::delay_ms(20)
        };
        let mut call = Call::new(grows, LinkConfig::delay_ms(20), 3);
        call.content_bps = Some(500_000);
        call.sides[0].step_up_bps = step_up;
        call.run(Duration::from_secs(45));
        print_first_link(&call);
        let targets = &call.sides[0].targets;
        println!(
            "targets (s, kbit/s): {:?}",
            targets
                .iter()
                .map(|(t, b)| (t.as_secs(), b / 1000))
                .collect::<Vec<_>>()
        );
        targets
            .iter()
            .filter(|(t, _)| *t >= Duration::from_secs(35))
            .map(|&(_, bps)| bps)
            .min()
            .expect("targets in the last 10 s")
    };
    // The next rung up would need 1.8 Mbit/s of video. The climb to it
    // starts when a probe finds the room: 17-31 s into the call over
    // twelve links of 0.5-0.8 Mbit/s and 10-40 ms.
    for rate in [500_000, 600_000, 800_000] {
        let (with, without) = (late_target(rate, Some(1_800_000)), late_target(rate, None));
        println!("{rate}: late target {with} with the wanted rate, {without} without");
        assert!(with >= 1_800_000, "{rate}: {with}");
    }
}

#[test]
fn looking_for_room_on_a_narrow_link_keeps_its_queue_short() {
    // 500 kbit/s; the picture needs 300 kbit/s at its rung, and the next
    // rung up would need 450 kbit/s of video (with the audio, more than
    // the link carries): the padding that looks for that room must not
    // keep a queue standing.
    let narrow = LinkConfig {
        rate_bps: Some(500_000),
        ..LinkConfig::delay_ms(20)
    };
    let mut call = Call::new(narrow, LinkConfig::delay_ms(20), 5);
    call.content_bps = Some(300_000);
    call.sides[0].step_up_bps = Some(450_000);
    call.run(Duration::from_secs(40));
    let (link, kbps) = (&call.links[0], print_first_link(&call));
    println!("queue ms per tenth of a second: {:?}", link.queue_ms_tenths);
    let waits: Vec<u64> = link.queue_ms[10..].to_vec();
    let long = waits.iter().filter(|&&q| q >= 120).count();
    println!("from 10 s: {long} seconds with a wait of 120 ms or more");
    assert!(long <= 3, "{waits:?}");
    let late: u64 = kbps[10..40].iter().sum::<u64>() / 30;
    assert!(late >= 300, "{late} kbit/s: {kbps:?}");
    let r = &call.sides[1].received;
    assert!(r.fps[10..39].iter().all(|&f| f >= 25), "{:?}", r.fps);
}

#[test]
fn thirty_percent_loss_leaves_little_speech_to_conceal() {
    for seed in 1..=5 {
        let lossy = LinkConfig {
            loss: 0.3,
            ..LinkConfig::delay_ms(25)
        };
        let mut call = Call::new(lossy, LinkConfig::delay_ms(25), seed);
        call.run(Duration::from_secs(30));
        let r = &call.sides[1].received;
        let a = call.sides[1].jitter.stats();
        println!("seed {seed}: {}\n{a:?}", report(&call, 1));
        // Every frame RED brings back is the frame its timestamp names.
        assert_eq!(
            r.misplaced_audio, 0,
            "seed {seed}: of {} audio frames",
            r.audio
        );
        // With copies of the three frames before it in each packet, a frame
        // is lost only when four in a row are: 0.8 % at 30 % loss, besides
        // those in flight at the end (2.7 % with two copies, which fails
        // this).
        let sent = call.audio_sent[0];
        assert!(sent > 1_000, "seed {seed}: {sent}");
        assert!(
            r.audio * 100 >= sent * 98,
            "seed {seed}: {} of {sent} audio frames",
            r.audio
        );
        let frames = a.played + a.fec_recovered + a.concealed;
        assert!(
            (a.fec_recovered + a.concealed) * 100 <= frames * 2,
            "seed {seed}: {a:?}"
        );
    }
}

#[test]
fn five_percent_loss_with_jitter_plays_without_freezes() {
    // The bench's 5 % loss with 50 ± 10 ms: 40-60 ms here, each packet
    // delayed on its own (they arrive reordered).
    let lossy = LinkConfig {
        loss: 0.05,
        jitter: Duration::from_millis(20),
        ..LinkConfig::delay_ms(40)
    };
    let mut call = Call::new(lossy, LinkConfig::delay_ms(1), 11);
    call.run(Duration::from_secs(30));
    let r = &call.sides[1].received;
    println!(
        "{}\nvideo delay ms per second {:?}",
        report(&call, 1),
        r.video_delay_ms
    );
    let sent = call.frames_sent[0];
    assert!(r.decodable * 100 >= sent * 95, "{} of {sent}", r.decodable);
    // The encoder plans within the budget str0m's pacer paces at, not the
    // 3 s average it reports: when its estimate swung between about 1 and
    // 3 Mbit/s here in the first seconds, frames planned with the average
    // waited up to 1.2 s in the pacer and the picture froze 5 times in
    // each of 30 runs; within the budget, 0 times in 30.
    let freezes = call.sides[1].freeze_meter.freezes();
    assert!(freezes <= 1, "{freezes} freezes");
    let a = call.sides[1].jitter.stats();
    let frames = a.played + a.fec_recovered + a.concealed;
    assert!(frames > 1_400, "{a:?}");
    assert!(a.concealed * 100 <= frames, "{a:?}");
}

/// A capacity drop is caught within a few transport feedback reports:
/// 2 → 0.5 Mbit/s under pictures that need 0.9–1.3 Mbit/s (1.1–1.6
/// Mbit/s on the wire, audio copies and probes included), over paths of
/// 2–40 ms. Everything sent before the first cut meets the encoder queues
/// at the bottleneck, growing by 1.3–2.1 ms every millisecond, so the
/// peak is set by how soon a queue is seen and how deep the first cut
/// goes. With the round trip read every 100 ms and the first cut at 70 %
/// of what was sent, the peaks averaged 348 ms (281–399); read every
/// 25 ms, 278 ms; with the first cut also below the early read, 257 ms
/// (148–338).
#[test]
fn a_capacity_drop_is_caught_before_its_queue_grows_long() {
    let mut peaks = Vec::new();
    for delay in [1, 5, 10, 20] {
        for content in [900_000, 1_100_000, 1_300_000] {
            let step = LinkConfig {
                rate_bps: Some(2_000_000),
                step: Some((Duration::from_secs(10), 500_000)),
                ..LinkConfig::delay_ms(delay)
            };
            let mut call = Call::new(step, LinkConfig::delay_ms(delay), 1);
            call.content_bps = Some(content);
            call.run(Duration::from_secs(13));
            let tenths = &call.links[0].queue_ms_tenths;
            let peak = tenths[100..130].iter().max().copied().unwrap_or(0);
            println!(
                "{delay} ms, {content} bit/s: queue peak {peak} ms, per tenth from 10 s {:?}",
                &tenths[100..110]
            );
            peaks.push(peak);
        }
    }
    let mean = peaks.iter().sum::<u64>() / peaks.len() as u64;
    // None reaches the 400 ms the link holds before it drops.
    assert!(peaks.iter().all(|&p| p < 380), "{peaks:?}");
    assert!(mean <= 270, "mean {mean} ms: {peaks:?}");
}

/// The least value of `series` in each whole second from `from` to `to`
/// (None: nothing in that second).
fn least_per_second<T: Copy + Ord>(series: &[(Duration, T)], from: u64, to: u64) -> Vec<Option<T>> {
    (from..to)
        .map(|s| {
            series
                .iter()
                .filter(|(at, _)| at.as_secs() == s)
                .map(|&(_, v)| v)
                .min()
        })
        .collect()
}

/// Random loss on a path with room is NACK's and RED's to repair, not a
/// reason to send less: the estimate is the delay-based one alone (str0m's
/// loss-based estimator is off), and 10 % loss stays under the rate
/// controller's heavy-loss limit. With the loss-based estimator on, the
/// first call's target stayed at 1.07-1.25 Mbit/s from its second second
/// on (its pacer paced at the loss-based estimate), and at 5 % loss with
/// 40-60 ms of delay targets ran at 1.0-1.5 Mbit/s over 12 seeds.
#[test]
fn random_loss_on_a_path_with_room_keeps_the_rate() {
    let lossy = |loss, jitter| LinkConfig {
        loss,
        jitter: Duration::from_millis(jitter),
        ..LinkConfig::delay_ms(if jitter > 0 { 40 } else { 20 })
    };
    for (loss, jitter, seed) in [(0.10, 0, 1), (0.10, 0, 2), (0.05, 20, 3)] {
        let mut call = Call::new(lossy(loss, jitter), LinkConfig::delay_ms(20), seed);
        // What the picture needs: less than the most the target allows.
        call.content_bps = Some(2_000_000);
        call.run(Duration::from_secs(20));
        let side = &call.sides[0];
        let targets = least_per_second(&side.targets, 2, 20);
        let estimates = least_per_second(&side.estimates, 2, 20);
        println!(
            "{loss} loss, {jitter} ms jitter: targets {targets:?}\nestimates {estimates:?}\n{}",
            report(&call, 1)
        );
        // The target stays at what the picture needs (a second or two
        // may dip with a delay-based cut: jitter reads as a queue).
        let case = format!("{loss} loss, {jitter} ms jitter, seed {seed}");
        let low = targets
            .iter()
            .filter(|t| t.is_some_and(|t| t < 2_000_000))
            .count();
        assert!(low <= 2, "{case}: {low} s under 2 Mbit/s: {targets:?}");
        // str0m reports its estimate when it moved by 5 %.
        assert!(estimates.iter().flatten().count() > 0, "{case}");
        assert!(
            estimates.iter().flatten().all(|&e| e >= 2_000_000),
            "{case}: {estimates:?}"
        );
        // And it arrives (a keyframe lost at the start can cost a second
        // of the 20).
        let r = &call.sides[1].received;
        assert!(
            r.decodable * 100 >= call.frames_sent[0] * 90,
            "{case}: {r:?}"
        );
    }
}

/// A policer drops what exceeds its rate and queues next to nothing, so the
/// round trip barely shows it: the heavy loss it causes is what lowers the
/// target first (by half the loss each second), seconds before str0m's
/// delay-based estimate falls (the retransmissions keep the 30 ms buffer
/// full), and the loss limit then climbs back while loss stays light. 1
/// Mbit/s with a 30 ms buffer under 2 Mbit/s of picture: the target went
/// under the link's rate in the 4th second (the 7th is allowed), the
/// sending, retransmissions included, in the 7th; the estimate fell below
/// 1.5 Mbit/s at 7 s. The last 10 s use most of the link.
#[test]
fn a_policed_link_is_found_by_the_loss_limit() {
    let policed = LinkConfig {
        rate_bps: Some(1_000_000),
        queue: Duration::from_millis(30),
        ..LinkConfig::delay_ms(20)
    };
    let mut call = Call::new(policed, LinkConfig::delay_ms(20), 1);
    call.content_bps = Some(2_000_000);
    call.run(Duration::from_secs(30));
    let kbps = print_first_link(&call);
    let side = &call.sides[0];
    let targets = least_per_second(&side.targets, 0, 30);
    let estimates = least_per_second(&side.estimates, 0, 30);
    println!("targets {targets:?}\nestimates {estimates:?}");
    let under = targets
        .iter()
        .position(|t| t.is_some_and(|t| t < 1_000_000))
        .expect("the target went under the link's rate");
    assert!(under <= 6, "{targets:?}");
    // The loss limit, not the estimate, found it.
    let estimate_fell = estimates
        .iter()
        .position(|e| e.is_some_and(|e| e < 1_500_000))
        .unwrap_or(estimates.len());
    assert!(under < estimate_fell, "{estimates:?}");
    // From then on the target stays under the link's rate.
    let most: Vec<u32> = side
        .targets
        .iter()
        .filter(|(at, _)| at.as_secs() > under as u64)
        .map(|&(_, t)| t)
        .collect();
    assert!(most.iter().all(|&t| t < 1_000_000), "{most:?}");
    // The last 10 s: at most 15 % over the link's rate on the wire (RTX
    // included), and at least half of it used.
    let tail = kbps.get(20..30).expect("30 s of traffic");
    let mean = tail.iter().sum::<u64>() / tail.len() as u64;
    assert!((500..=1_150).contains(&mean), "{mean} kbit/s: {kbps:?}");
    // What is sent then arrives: nearly 30 frames a second decodable.
    let fps = &call.sides[1].received.fps;
    let shown: u64 = fps.get(20..30).map_or(0, |f| f.iter().sum());
    assert!(shown >= 280, "{fps:?}");
}
