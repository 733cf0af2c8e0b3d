//! One peer connection without I/O: str0m's [`Rtc`] plus what libmedia
//! decides around it — which media it offers, how much of the video may be
//! NACK answers ([`RepairPolicy`]), whether audio carries RED copies
//! ([`RedundancyPolicy`]), when a connection that never came up or went
//! quiet has failed — and how str0m's events become the engine's frames
//! and [`Feedback`].
//!
//! Time is an input: every call takes `now`, and [`PeerConnection::poll_output`]
//! returns datagrams to send, what the engine must hear, or the instant to
//! call back at. The network thread ([`super::webrtc`]) drives it with real
//! sockets and the real clock; the two-peer simulation (`sim_tests`)
//! drives two of them through a seeded link on a virtual clock.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::bwe::{Bitrate, BweKind};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{
    Direction, Frequency, KeyframeRequestKind, MediaKind as RtcKind, MediaTime, Mid, Pt,
};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Candidate, Event as RtcEvent, IceConnectionState, Input, Output, Rtc};

use super::pacer_watch::PacerWatch;
use super::webrtc::{ConnectionState, NetworkStats, Role, Signal, WebRtcConfig};
use super::Feedback;
use crate::clock::Clock;
use crate::control::rtt::RoundTripMeter;
use crate::control::{RedundancyPolicy, RepairPolicy, RED_DISTANCES};
use crate::error::{Error, Result};
use crate::frame::{EncodedFrame, MediaKind};

/// Video packets kept for retransmission, and for how long.
const VIDEO_SEND_BUFFER: usize = 2000;
const RTX_CACHE_AGE: Duration = Duration::from_secs(3);
/// How often str0m reports its statistics, and the round trip is read.
/// Transport feedback comes every 50 ms, at a phase of its own: read
/// every 25 ms, a round trip is at most 25 ms old. Read every 100 ms, a
/// queue filled by a capacity drop showed up to 75 ms later, and grew by
/// then (at 1.3 Mbit/s into a 0.5 Mbit/s link, by 1.6 ms every
/// millisecond): in the two-peer simulation its peak fell from 348 to
/// 276 ms on average over twelve links.
const RTT_INTERVAL: Duration = Duration::from_millis(25);
/// How often the rest of those statistics is acted on: the repair
/// policy's round trip, the pacer's report and the rate the estimator is
/// asked to find.
const CONTROL_INTERVAL: Duration = Duration::from_millis(100);
/// How often [`Feedback::NetworkStats`] goes to the engine.
const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// The rate the estimator is asked to find ("desired") is this multiple of
/// what we send (smoothed over about a second), within the configured
/// bounds. str0m probes up to twice the desired rate — every 5 s while
/// the encoder sends less than the estimate (its content needs no more),
/// and after a large drop — so a desired rate at the configured maximum
/// sent 5 Mbit/s bursts into a 2 Mbit/s path, and into a 500 kbit/s one
/// right after its capacity fell, refilling the queue the cut drained.
/// It is at least what the next size of the video up would need (the
/// engine's wanted rate), and str0m pads the traffic up to that rate
/// (within its estimate): a picture stepped down sends less than the
/// estimate, and the estimate grows only with what is sent (at most 1.5×
/// it), so without the padding the video stayed at the smaller size on a
/// path with room for more.
const DESIRED_PER_SENT: f64 = 1.5;
/// The desired rate stays at the maximum for this long after connecting
/// (the first probes find the path), and moves only by more than this
/// share.
const DESIRED_AFTER: Duration = Duration::from_secs(3);
const DESIRED_STEP: f64 = 0.15;
/// Weight of each [`CONTROL_INTERVAL`]'s send rate in the smoothed one.
const SENT_SMOOTHING: f64 = 0.2;

/// Whether something last done at `last` is due again at `at`, `every`
/// apart. Statistics come when str0m's timeouts are handled, a little
/// after each [`RTT_INTERVAL`]: within half of one counts.
fn due(at: Instant, last: Option<Instant>, every: Duration) -> bool {
    last.is_none_or(|last| at.saturating_duration_since(last) + RTT_INTERVAL / 2 >= every)
}

/// What a [`PeerConnection`] asks of its driver, in the order it is polled.
#[derive(Debug)]
pub enum PeerOutput {
    /// A datagram to send from `source` (one of the host addresses).
    Transmit(Transmit),
    /// An offer, answer or candidate for the peer, through signaling.
    Signal(Signal),
    /// A state change or a measurement for the engine.
    Feedback(Feedback),
    /// A frame from the peer, for the audio or video stage.
    Media(EncodedFrame),
    /// Nothing more to do before this instant (or before new input).
    Timeout(Instant),
    /// The connection is over (closed or broken): stop driving it.
    Closed,
}

fn build_rtc(config: &WebRtcConfig, now: Instant) -> Rtc {
    let mut cfg = Rtc::builder()
        .set_crypto_provider(super::crypto::provider())
        .clear_codecs()
        // Opus with RED (RFC 2198): each packet may also carry the frames
        // before it; whether it does follows the loss (see
        // `control::RedundancyPolicy`).
        .enable_opus(true, true)
        .set_red_distances(&RED_DISTANCES)
        .enable_bwe(Some(Bitrate::bps(config.start_bitrate_bps as u64)))
        // The estimate is the delay-based one alone: str0m's loss-based
        // estimator reads random loss, and packets reordered past a
        // feedback, as congestion for the first seconds of a call (5 %
        // loss took it from 1.3 Mbit/s to 455 kbit/s on a link with no
        // limit). Loss is left to `control::rate`'s heavy-loss limit
        // (vendor/str0m/PATCHES.md).
        .set_loss_based_bwe(false)
        // The round trip is read 40 times a second (a building queue
        // shows there first); the network statistics go out once a second.
        .set_stats_interval(Some(RTT_INTERVAL))
        // A 720p IDR can span well over a hundred packets.
        .set_reordering_size_video(512)
        // Audio is reordered by the engine's jitter buffer; holding packets
        // behind a gap here would turn one loss into a burst of late ones.
        .set_reordering_size_audio(0)
        .set_send_buffer_video(VIDEO_SEND_BUFFER);
    cfg.codec_config()
        .add_h264(108.into(), Some(109.into()), true, 0x42e01f);
    let mut rtc = cfg.build(now);
    rtc.bwe().set_bitrate(
        Bitrate::bps(config.min_bitrate_bps as u64),
        Bitrate::bps(config.max_bitrate_bps as u64),
    );
    rtc
}

/// See the module docs.
pub struct PeerConnection {
    rtc: Rtc,
    config: WebRtcConfig,
    role: Role,
    clock: Clock,
    /// What the engine must hear, ahead of str0m's next output.
    pending: VecDeque<PeerOutput>,
    mids: HashMap<MediaKind, Mid>,
    pts: HashMap<MediaKind, Pt>,
    pending_offer: Option<SdpPendingOffer>,
    started: Instant,
    /// When the latest input came: str0m raises its events while handling
    /// it, so they happened then.
    last_input: Instant,
    /// When [`Feedback::NetworkStats`] last went out.
    stats_at: Option<Instant>,
    /// When the statistics were last acted on (see [`CONTROL_INTERVAL`]).
    control_at: Option<Instant>,
    /// The video NACKs last passed on as [`Feedback::NacksSent`], and when.
    nacks_sent: u64,
    nacks_at: Option<Instant>,
    connected: bool,
    /// Since when ICE has reported the connection disconnected.
    disconnected_since: Option<Instant>,
    failed: bool,
    closed: bool,
    video_seq: u64,
    /// Whether audio goes out with RED, by the loss the peer reports.
    redundancy: RedundancyPolicy,
    /// The peer accepted RED for our audio.
    red_negotiated: bool,
    /// How much of our video may be NACK answers, by the path's RTT.
    repair: RepairPolicy,
    /// Media bytes written since the last statistics, and the send rate
    /// smoothed over them, bits per second.
    sent_bytes: u64,
    sent_bps: f64,
    /// Round trips with the bytes sent between them.
    round_trips: RoundTripMeter,
    /// The largest round trip since the last [`Feedback::NetworkStats`].
    rtt_max_us: Option<u64>,
    sent_at: Option<Instant>,
    connected_at: Option<Instant>,
    /// The rate the estimator is asked to find.
    desired_bps: u64,
    /// See [`Self::set_wanted_bps`].
    wanted_bps: u64,
    /// The traffic str0m sustains with padding (its "minimum").
    sustained_bps: u64,
    /// How far behind str0m's pacer is with our video.
    pacer: PacerWatch,
}

impl PeerConnection {
    /// A connection gathering on `host_addrs`. An offerer's offer is the
    /// first output.
    pub fn new(
        config: WebRtcConfig,
        role: Role,
        clock: Clock,
        host_addrs: &[SocketAddr],
        now: Instant,
    ) -> Result<Self> {
        let mut peer = PeerConnection {
            rtc: build_rtc(&config, now),
            config,
            role,
            clock,
            pending: VecDeque::new(),
            mids: HashMap::new(),
            pts: HashMap::new(),
            pending_offer: None,
            started: now,
            last_input: now,
            stats_at: None,
            control_at: None,
            nacks_sent: 0,
            nacks_at: None,
            connected: false,
            disconnected_since: None,
            failed: false,
            closed: false,
            video_seq: 0,
            redundancy: RedundancyPolicy::default(),
            red_negotiated: false,
            repair: RepairPolicy::default(),
            sent_bytes: 0,
            sent_bps: 0.0,
            round_trips: RoundTripMeter::default(),
            rtt_max_us: None,
            sent_at: None,
            connected_at: None,
            desired_bps: 0,
            wanted_bps: 0,
            sustained_bps: 0,
            pacer: PacerWatch::default(),
        };
        for &addr in host_addrs {
            match Candidate::host(addr, "udp") {
                Ok(c) => {
                    peer.rtc.add_local_candidate(c);
                }
                Err(e) => tracing::warn!("host candidate {addr} refused: {e}"),
            }
        }
        if role == Role::Offerer {
            peer.offer()?;
        }
        peer.feedback(Feedback::Connection(ConnectionState::Connecting));
        Ok(peer)
    }

    fn offer(&mut self) -> Result<()> {
        let mut api = self.rtc.sdp_api();
        let audio = api.add_media(
            RtcKind::Audio,
            Direction::SendRecv,
            Some("libmedia".into()),
            None,
            None,
        );
        let video = self.config.video.then(|| {
            api.add_media(
                RtcKind::Video,
                Direction::SendRecv,
                Some("libmedia".into()),
                None,
                None,
            )
        });
        let (offer, pending) = api
            .apply()
            .ok_or_else(|| Error::internal("no media to offer"))?;
        self.mids.insert(MediaKind::Audio, audio);
        if let Some(v) = video {
            self.mids.insert(MediaKind::Video, v);
        }
        self.pending_offer = Some(pending);
        self.pending
            .push_back(PeerOutput::Signal(Signal::Offer(offer.to_sdp_string())));
        Ok(())
    }

    /// Whether ICE and DTLS are up.
    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// A candidate found later (a server-reflexive address from STUN); it
    /// is trickled to the peer.
    pub fn add_local_candidate(&mut self, candidate: Candidate) {
        if let Some(added) = self.rtc.add_local_candidate(candidate) {
            let line = added.to_sdp_string();
            self.pending
                .push_back(PeerOutput::Signal(Signal::Candidate(line)));
        }
    }

    /// A datagram that arrived on `destination` (one of our host addresses).
    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        self.last_input = self.last_input.max(now);
        let Ok(receive) = Receive::new(Protocol::Udp, source, destination, datagram) else {
            return;
        };
        if let Err(e) = self.rtc.handle_input(Input::Receive(now, receive)) {
            tracing::debug!("dropped datagram from {source}: {e}");
        }
    }

    /// Time has passed: str0m's timers, and the connect and disconnect
    /// timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_input = self.last_input.max(now);
        if !self.connected
            && now.saturating_duration_since(self.started) > self.config.connect_timeout
        {
            self.fail("ICE / DTLS did not connect in time");
        }
        if let Some(since) = self.disconnected_since {
            if now.saturating_duration_since(since) > self.config.disconnect_timeout {
                self.fail("the peer stayed unreachable");
            }
        }
        if self.rtc.handle_input(Input::Timeout(now)).is_err() {
            self.closed = true;
        }
    }

    /// Ends the connection; the next poll says [`PeerOutput::Closed`].
    pub fn close(&mut self) {
        self.rtc.disconnect();
        self.closed = true;
    }

    /// The next thing to do. Call until it returns a `Timeout` (or
    /// `Closed`) after every input.
    pub fn poll_output(&mut self) -> PeerOutput {
        loop {
            if let Some(out) = self.pending.pop_front() {
                return out;
            }
            if self.closed || !self.rtc.is_alive() {
                return PeerOutput::Closed;
            }
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => return PeerOutput::Timeout(self.deadline(t)),
                Ok(Output::Transmit(t)) => {
                    self.pacer.on_transmit(&t.contents);
                    return PeerOutput::Transmit(t);
                }
                Ok(Output::Event(e)) => self.event(e),
                Err(e) => {
                    self.fail(&format!("rtc: {e}"));
                    self.closed = true;
                }
            }
        }
    }

    /// str0m's next timer, or one of ours if sooner.
    fn deadline(&self, rtc: Instant) -> Instant {
        let mut at = rtc;
        if !self.connected && !self.failed {
            at = at.min(self.started + self.config.connect_timeout);
        }
        if let (Some(since), false) = (self.disconnected_since, self.failed) {
            at = at.min(since + self.config.disconnect_timeout);
        }
        at
    }

    fn feedback(&mut self, f: Feedback) {
        self.pending.push_back(PeerOutput::Feedback(f));
    }

    fn fail(&mut self, why: &str) {
        if !self.failed {
            tracing::warn!("peer connection failed: {why}");
            self.failed = true;
            self.feedback(Feedback::Connection(ConnectionState::Failed));
        }
    }

    /// str0m stops answering NACKs once repairs are 15 % of what a video
    /// stream sent over the last second: at 20 % random loss every frame
    /// then waits for a keyframe, and keyframes are the largest frames.
    /// While the RTT shows no queue, repairs may be half of what goes out
    /// (`control::RepairPolicy`); the rate controller lowers the target
    /// under heavy loss, which bounds the total.
    fn configure_video_repair(&mut self) {
        let Some(&mid) = self.mids.get(&MediaKind::Video) else {
            return;
        };
        let share = self.repair.share();
        match self.rtc.direct_api().stream_tx_by_mid(mid, None) {
            Some(stream) => stream.set_rtx_cache(VIDEO_SEND_BUFFER, RTX_CACHE_AGE, Some(share)),
            None => tracing::debug!("no video send stream to set the repair share on"),
        }
    }

    fn kind_of(&self, mid: Mid) -> Option<MediaKind> {
        self.mids.iter().find(|(_, m)| **m == mid).map(|(k, _)| *k)
    }

    fn event(&mut self, e: RtcEvent) {
        match e {
            RtcEvent::MediaAdded(m) => {
                let kind = if m.kind == RtcKind::Audio {
                    MediaKind::Audio
                } else {
                    MediaKind::Video
                };
                self.mids.insert(kind, m.mid);
            }
            RtcEvent::Connected => {
                self.connected = true;
                self.connected_at = Some(self.last_input);
                self.configure_video_repair();
                self.feedback(Feedback::Connection(ConnectionState::Connected));
                // Whatever was encoded before is gone: start with a keyframe.
                self.feedback(Feedback::KeyframeNeeded);
            }
            RtcEvent::IceConnectionStateChange(state) => match state {
                IceConnectionState::Disconnected if self.connected => {
                    if self.disconnected_since.is_none() {
                        self.disconnected_since = Some(self.last_input);
                    }
                    self.feedback(Feedback::Connection(ConnectionState::Disconnected))
                }
                IceConnectionState::Connected | IceConnectionState::Completed if self.connected => {
                    self.disconnected_since = None;
                    self.feedback(Feedback::Connection(ConnectionState::Connected))
                }
                _ => {}
            },
            RtcEvent::MediaData(d) => {
                let Some(kind) = self.kind_of(d.mid) else {
                    return;
                };
                let codec = d.params.spec().codec;
                let (seq, keyframe) = match kind {
                    MediaKind::Audio if codec == Codec::Opus => (d.time.numer() / 960, false),
                    MediaKind::Video if codec == Codec::H264 => {
                        // A gap shows as a skipped sequence number: the
                        // decoder then waits for (and asks for) a keyframe.
                        self.video_seq += if d.contiguous { 1 } else { 2 };
                        (self.video_seq, d.is_keyframe())
                    }
                    _ => return,
                };
                let now = self.clock.us_at(self.last_input);
                // The sender's capture time on our clock, through its last
                // sender report (NTP time ↔ RTP time); until one came,
                // only the arrival time is known.
                let captured = d.last_sender_info.and_then(|sr| {
                    let rate = d.time.frequency().get() as i64;
                    let ticks = (d.time.numer() as u32).wrapping_sub(sr.rtp_time.numer() as u32)
                        as i32 as i64;
                    let offset =
                        Duration::from_micros((ticks.unsigned_abs() * 1_000_000) / rate as u64);
                    let at = if ticks >= 0 {
                        sr.ntp_time.checked_add(offset)
                    } else {
                        sr.ntp_time.checked_sub(offset)
                    }?;
                    self.clock.at_system_time(now, at).map(|us| us.min(now))
                });
                let capture_us = captured.unwrap_or(now);
                self.pending.push_back(PeerOutput::Media(EncodedFrame {
                    kind,
                    seq,
                    timestamp: d.time.numer(),
                    capture_us,
                    encoded_us: capture_us,
                    capture_known: captured.is_some(),
                    keyframe,
                    data: d.data.to_vec(),
                }));
            }
            RtcEvent::KeyframeRequest(_) => self.feedback(Feedback::KeyframeRequest),
            RtcEvent::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => self.feedback(
                Feedback::BitrateEstimate(estimate.as_u64().min(u32::MAX as u64) as u32),
            ),
            RtcEvent::PeerStats(p) => {
                let now = self.clock.us_at(self.last_input);
                if let Some(rtt) = p.rtt {
                    let us = rtt.as_micros().min(u64::MAX as u128) as u64;
                    self.rtt_max_us = Some(self.rtt_max_us.map_or(us, |m| m.max(us)));
                    let rt = self.round_trips.measure(now, us, p.peer_bytes_tx);
                    self.feedback(Feedback::RoundTrip(rt));
                }
                let at = self.last_input;
                if !due(at, self.control_at, CONTROL_INTERVAL) {
                    return;
                }
                self.control_at = Some(at);
                let path_rtt = p
                    .selected_candidate_pair
                    .as_ref()
                    .and_then(|pair| pair.current_round_trip_time);
                let mut repair_changed = false;
                for rtt in [p.rtt, path_rtt].into_iter().flatten() {
                    let us = rtt.as_micros().min(u64::MAX as u128) as u64;
                    repair_changed |= self.repair.on_rtt(now, us).is_some();
                }
                if repair_changed && self.connected {
                    self.configure_video_repair();
                }
                if self.connected {
                    let wait_us = self.pacer.wait_us(now);
                    let estimate_bps = p.bwe_tx.map(|b| b.as_u64());
                    self.feedback(Feedback::Pacer {
                        wait_us,
                        estimate_bps,
                    });
                }
                self.steer_desired();
                if !due(at, self.stats_at, STATS_INTERVAL) {
                    return;
                }
                self.stats_at = Some(at);
                if let Some(loss) = p.egress_loss_fraction {
                    if let Some(on) = self.redundancy.on_loss_report(now, loss) {
                        if let Some(&mid) = self.mids.get(&MediaKind::Audio) {
                            self.rtc.direct_api().set_red_send(mid, on);
                        }
                    }
                }
                let stats = NetworkStats {
                    rtt_us: p.rtt.map(|d| d.as_micros() as u64),
                    rtt_max_us: self.rtt_max_us.take(),
                    path_rtt_us: p.selected_candidate_pair.as_ref().and_then(|pair| {
                        let mean = (pair.responses_received > 0)
                            .then(|| pair.total_round_trip_time / pair.responses_received as u32);
                        [pair.current_round_trip_time, mean]
                            .into_iter()
                            .flatten()
                            .min()
                            .map(|d| d.as_micros() as u64)
                    }),
                    egress_loss: p.egress_loss_fraction,
                    ingress_loss: p.ingress_loss_fraction,
                    bytes_sent: p.peer_bytes_tx,
                    bytes_received: p.peer_bytes_rx,
                    audio_redundancy: self.red_negotiated && self.redundancy.is_on(),
                };
                self.feedback(Feedback::NetworkStats(stats))
            }
            RtcEvent::MediaIngressStats(s) if self.kind_of(s.mid) == Some(MediaKind::Video) => {
                // A running count: passed on when it moved, at most as
                // often as the statistics are acted on, not with every
                // read of the round trip.
                let at = self.last_input;
                if s.nacks != self.nacks_sent && due(at, self.nacks_at, CONTROL_INTERVAL) {
                    self.nacks_sent = s.nacks;
                    self.nacks_at = Some(at);
                    self.feedback(Feedback::NacksSent(s.nacks));
                }
            }
            _ => {}
        }
    }

    /// What the sender would use if the path has it (see
    /// [`super::Transport::set_wanted_bps`]): the estimator looks for it,
    /// and padding keeps the traffic at it (within the estimate) until the
    /// media takes its place.
    pub fn set_wanted_bps(&mut self, bps: u64) {
        self.wanted_bps = bps;
    }

    /// Follows what we send with the rate the estimator probes for (see
    /// [`DESIRED_PER_SENT`]), and sets the traffic str0m sustains with
    /// padding: the wanted rate, when there is one.
    fn steer_desired(&mut self) {
        let now = self.last_input;
        if let Some(last) = self.sent_at {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            if dt > 0.0 {
                let bps = self.sent_bytes as f64 * 8.0 / dt;
                self.sent_bps += SENT_SMOOTHING * (bps - self.sent_bps);
            }
        }
        self.sent_at = Some(now);
        self.sent_bytes = 0;
        let settled = self
            .connected_at
            .is_some_and(|at| now.saturating_duration_since(at) >= DESIRED_AFTER);
        if !settled {
            return;
        }
        let min = self.config.min_bitrate_bps as u64;
        let max = (self.config.max_bitrate_bps as u64).max(min);
        let wanted = self.wanted_bps.min(max);
        let desired = ((self.sent_bps * DESIRED_PER_SENT) as u64)
            .max(wanted)
            .clamp(min, max);
        let sustained = wanted.max(min);
        let moved = |new: u64, old: u64| new.abs_diff(old) as f64 > old as f64 * DESIRED_STEP;
        if self.desired_bps == 0
            || moved(desired, self.desired_bps)
            || moved(sustained, self.sustained_bps)
        {
            self.desired_bps = desired;
            self.sustained_bps = sustained;
            self.rtc
                .bwe()
                .set_bitrate(Bitrate::bps(sustained), Bitrate::bps(desired));
        }
    }

    fn payload_type(&mut self, kind: MediaKind) -> Option<(Mid, Pt)> {
        let mid = *self.mids.get(&kind)?;
        if let Some(pt) = self.pts.get(&kind) {
            return Some((mid, *pt));
        }
        let writer = self.rtc.writer(mid)?;
        let (pt, red) = writer
            .payload_params()
            .find(|p| match kind {
                MediaKind::Audio => p.spec().codec == Codec::Opus,
                MediaKind::Video => {
                    p.spec().codec == Codec::H264 && p.spec().format.packetization_mode == Some(1)
                }
            })
            .map(|p| (p.pt(), p.red().is_some()))?;
        if kind == MediaKind::Audio {
            self.red_negotiated = red;
        }
        self.pts.insert(kind, pt);
        Some((mid, pt))
    }

    /// Sends one encoded frame of ours, handed over at `now` (dropped until
    /// connected, as str0m would).
    pub fn send(&mut self, now: Instant, frame: EncodedFrame) {
        self.last_input = self.last_input.max(now);
        if !self.connected {
            return;
        }
        let Some((mid, pt)) = self.payload_type(frame.kind) else {
            return;
        };
        let freq = match frame.kind {
            MediaKind::Audio => Frequency::FORTY_EIGHT_KHZ,
            MediaKind::Video => Frequency::NINETY_KHZ,
        };
        let wallclock = self.clock.instant_at(frame.capture_us);
        self.sent_bytes += frame.data.len() as u64;
        let (kind, timestamp) = (frame.kind, frame.timestamp);
        if let Some(w) = self.rtc.writer(mid) {
            match w.write(pt, wallclock, MediaTime::new(timestamp, freq), frame.data) {
                // str0m writes the timestamp given, truncated to 32 bits.
                Ok(()) if kind == MediaKind::Video => {
                    let now_us = self.clock.us_at(self.last_input);
                    self.pacer.on_written(now_us, *pt, timestamp as u32);
                }
                Ok(()) => {}
                Err(e) => tracing::debug!("write {kind:?}: {e}"),
            }
        }
    }

    /// Asks the peer's video sender for a keyframe (RTCP PLI).
    pub fn request_keyframe(&mut self) {
        if let Some(mid) = self.mids.get(&MediaKind::Video).copied() {
            if let Some(mut w) = self.rtc.writer(mid) {
                let _ = w.request_keyframe(None, KeyframeRequestKind::Pli);
            }
        }
    }

    /// The peer's offer, answer or trickled candidate.
    pub fn handle_signal(&mut self, signal: Signal) {
        match signal {
            Signal::Offer(sdp) => {
                if self.role != Role::Answerer {
                    return self.fail("got an offer but this side offers");
                }
                let offer = match SdpOffer::from_sdp_string(&sdp) {
                    Ok(o) => o,
                    Err(e) => return self.fail(&format!("bad offer: {e}")),
                };
                match self.rtc.sdp_api().accept_offer(offer) {
                    Ok(answer) => self
                        .pending
                        .push_back(PeerOutput::Signal(Signal::Answer(answer.to_sdp_string()))),
                    Err(e) => self.fail(&format!("offer refused: {e}")),
                }
            }
            Signal::Answer(sdp) => {
                let Some(pending) = self.pending_offer.take() else {
                    return self.fail("got an answer without an offer");
                };
                let answer = match SdpAnswer::from_sdp_string(&sdp) {
                    Ok(a) => a,
                    Err(e) => return self.fail(&format!("bad answer: {e}")),
                };
                if let Err(e) = self.rtc.sdp_api().accept_answer(pending, answer) {
                    self.fail(&format!("answer refused: {e}"));
                }
            }
            Signal::Candidate(line) => {
                let line = line.trim().trim_start_matches("a=");
                match Candidate::from_sdp_string(line) {
                    Ok(c) => self.rtc.add_remote_candidate(c),
                    Err(e) => tracing::debug!("ignoring candidate {line:?}: {e}"),
                }
            }
        }
    }
}
