//! The network transport: standard WebRTC on the wire through str0m (ICE,
//! DTLS-SRTP, RTP/RTCP with NACK/RTX, PLI, TWCC), so browsers and other
//! WebRTC endpoints are peers.
//!
//! str0m is sans-IO: this module's thread ("media-net") owns the UDP sockets
//! (one per host candidate address) and the clock, and drives str0m with a
//! mio poll loop. The engine talks to it through a command channel plus a
//! waker; it answers through the engine's [`TransportSink`]. Offer, answer
//! and trickled candidates leave through the `signals` callback and come in
//! through [`WebRtcTransport::handle_signal`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use str0m::bwe::{Bitrate, BweKind};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{
    Direction, Frequency, KeyframeRequestKind, MediaKind as RtcKind, MediaTime, Mid, Pt,
};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event as RtcEvent, IceConnectionState, Input, Output, Rtc};

use super::{Feedback, Transport, TransportSink, TransportStats};
use crate::clock::Clock;
use crate::control::{RedundancyPolicy, RepairPolicy};
use crate::error::{Error, ErrorKind, Result};
use crate::frame::{EncodedFrame, MediaKind};

/// Settings of one peer connection.
#[derive(Debug, Clone, PartialEq)]
pub struct WebRtcConfig {
    /// Addresses to offer as host candidates. Empty: every non-loopback
    /// interface address that is up (loopback when there is none).
    pub host_ips: Vec<IpAddr>,
    /// A STUN server: each socket asks it for its public address, which is
    /// trickled to the peer as a server-reflexive candidate.
    pub stun_server: Option<SocketAddr>,
    /// Negotiate a video stream (audio is always negotiated).
    pub video: bool,
    /// Bandwidth estimation bounds, bits per second (audio + video).
    pub start_bitrate_bps: u32,
    pub min_bitrate_bps: u32,
    pub max_bitrate_bps: u32,
    /// Give up ([`ConnectionState::Failed`]) when ICE + DTLS have not
    /// connected within this time of the transport's start (20 s).
    pub connect_timeout: Duration,
    /// Give up when a connection that was up has heard nothing from the
    /// peer for this long after ICE reported it disconnected (15 s). A
    /// shorter outage heals by itself.
    pub disconnect_timeout: Duration,
}

impl Default for WebRtcConfig {
    fn default() -> Self {
        WebRtcConfig {
            host_ips: Vec::new(),
            stun_server: None,
            video: true,
            start_bitrate_bps: 1_000_000,
            min_bitrate_bps: 100_000,
            max_bitrate_bps: 3_000_000,
            connect_timeout: Duration::from_secs(20),
            disconnect_timeout: Duration::from_secs(15),
        }
    }
}

/// Which side of the offer / answer exchange this peer takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Offerer,
    Answerer,
}

/// Signaling data exchanged with the peer (through the rendezvous server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// An SDP offer.
    Offer(String),
    /// An SDP answer.
    Answer(String),
    /// A trickled ICE candidate, in SDP `candidate:...` form.
    Candidate(String),
}

/// Connection progress, reported as [`Feedback::Connection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    Connecting,
    Connected,
    /// Lost after being connected; ICE keeps trying.
    Disconnected,
    /// Never connected within the timeout, or the peer's data was unusable.
    Failed,
}

/// Path measurements, reported as [`Feedback::NetworkStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NetworkStats {
    pub rtt_us: Option<u64>,
    /// The least of ICE's latest and mean round trip on the selected
    /// candidate pair: STUN checks, the first of them made before media
    /// flowed.
    pub path_rtt_us: Option<u64>,
    /// Fraction 0..1 of our packets the peer reports lost.
    pub egress_loss: Option<f32>,
    /// Fraction 0..1 of the peer's packets we lost.
    pub ingress_loss: Option<f32>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Our audio packets carry redundant copies of the frames before them
    /// (negotiated, and switched on by the loss the peer reports).
    pub audio_redundancy: bool,
}

enum Command {
    Send(EncodedFrame),
    RequestKeyframe,
    Signal(Signal),
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    bytes: AtomicU64,
    dropped_full: AtomicU64,
    delivered: AtomicU64,
}

/// See the module docs. Dropping it closes the connection and joins its thread.
pub struct WebRtcTransport {
    commands: Sender<Command>,
    waker: Arc<Waker>,
    counters: Arc<Counters>,
    local_addrs: Vec<SocketAddr>,
    thread: Option<JoinHandle<()>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

const WAKER: Token = Token(usize::MAX);

/// Host addresses to gather candidates on.
fn host_ips(config: &WebRtcConfig) -> Vec<IpAddr> {
    if !config.host_ips.is_empty() {
        return config.host_ips.clone();
    }
    let all: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|v| {
            v.into_iter()
                .map(|i| i.ip())
                .filter(|ip| ip.is_ipv4())
                .collect()
        })
        .unwrap_or_default();
    let outside: Vec<IpAddr> = all.iter().copied().filter(|ip| !ip.is_loopback()).collect();
    if outside.is_empty() {
        vec![IpAddr::from([127, 0, 0, 1])]
    } else {
        outside
    }
}

impl WebRtcTransport {
    /// Binds the sockets, sets up the peer connection and starts its thread.
    /// An offerer sends its offer through `signals` right away.
    pub fn new(
        config: WebRtcConfig,
        role: Role,
        sink: TransportSink,
        signals: Box<dyn FnMut(Signal) + Send>,
        clock: Clock,
    ) -> Result<Self> {
        let poll = Poll::new().map_err(|e| Error::internal(format!("mio poll: {e}")))?;
        let waker = Arc::new(
            Waker::new(poll.registry(), WAKER)
                .map_err(|e| Error::internal(format!("mio waker: {e}")))?,
        );
        let mut sockets = Vec::new();
        for ip in host_ips(&config) {
            match UdpSocket::bind(SocketAddr::new(ip, 0))
                .and_then(|s| s.local_addr().map(|a| (s, a)))
            {
                Ok((mut s, addr)) => {
                    let token = Token(sockets.len());
                    poll.registry()
                        .register(&mut s, token, Interest::READABLE)
                        .map_err(|e| Error::internal(format!("register socket: {e}")))?;
                    sockets.push((s, addr));
                }
                Err(e) => tracing::warn!("cannot bind UDP on {ip}: {e}"),
            }
        }
        if sockets.is_empty() {
            return Err(Error::new(
                ErrorKind::DeviceUnavailable,
                "no network interface to bind a UDP socket on",
            ));
        }
        let (sockets, local_addrs): (Vec<UdpSocket>, Vec<SocketAddr>) = sockets.into_iter().unzip();
        let (commands, rx) = bounded(1024);
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut net = Net {
            rtc: build_rtc(&config),
            config,
            role,
            poll,
            sockets,
            addrs: local_addrs.clone(),
            sink,
            signals,
            clock,
            commands: rx,
            counters: counters.clone(),
            stop: stop.clone(),
            mids: HashMap::new(),
            pts: HashMap::new(),
            pending_offer: None,
            started: Instant::now(),
            disconnected_since: None,
            connected: false,
            failed: false,
            video_seq: 0,
            redundancy: RedundancyPolicy::default(),
            red_negotiated: false,
            repair: RepairPolicy::default(),
            stun: Vec::new(),
        };
        net.start()?;
        let feedback = net.sink.feedback.clone();
        let thread = std::thread::Builder::new()
            .name("media-net".into())
            .spawn(move || {
                // A bug in the network thread ends this peer's media: say so
                // (the engine reports the connection failed) instead of
                // leaving a call that is silently dead.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| net.run()));
                if let Err(payload) = run {
                    let why = crate::error::panic_message(payload.as_ref());
                    tracing::error!("media-net stopped: {why}");
                    let _ = feedback.try_send(Feedback::Connection(ConnectionState::Failed));
                }
            })
            .map_err(|e| Error::internal(format!("spawn media-net: {e}")))?;
        Ok(WebRtcTransport {
            commands,
            waker,
            counters,
            local_addrs,
            thread: Some(thread),
            stop,
        })
    }

    /// The UDP addresses this peer listens on (its host candidates).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Feeds the peer's offer, answer or candidate.
    pub fn handle_signal(&self, signal: Signal) {
        self.command(Command::Signal(signal));
    }

    fn command(&self, c: Command) {
        match self.commands.try_send(c) {
            Ok(()) => {
                let _ = self.waker.wake();
            }
            Err(TrySendError::Full(_)) => {
                self.counters.dropped_full.fetch_add(1, Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

impl Transport for WebRtcTransport {
    fn send(&self, frame: EncodedFrame) {
        self.counters.sent.fetch_add(1, Relaxed);
        self.counters
            .bytes
            .fetch_add(frame.data.len() as u64, Relaxed);
        self.command(Command::Send(frame));
    }

    fn request_keyframe(&self) {
        self.command(Command::RequestKeyframe);
    }

    fn stats(&self) -> TransportStats {
        let c = &self.counters;
        TransportStats {
            frames_sent: c.sent.load(Relaxed),
            bytes_sent: c.bytes.load(Relaxed),
            frames_lost: 0,
            frames_delivered: c.delivered.load(Relaxed),
            frames_dropped_full: c.dropped_full.load(Relaxed),
        }
    }
}

impl Drop for WebRtcTransport {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Video packets kept for retransmission, and for how long.
const VIDEO_SEND_BUFFER: usize = 2000;
const RTX_CACHE_AGE: Duration = Duration::from_secs(3);

fn build_rtc(config: &WebRtcConfig) -> Rtc {
    let mut cfg = Rtc::builder()
        .clear_codecs()
        // Opus with RED (RFC 2198): each packet may also carry the two
        // frames before it; whether it does follows the loss (see
        // `control::RedundancyPolicy`).
        .enable_opus(true, true)
        .set_red_distances(&[1, 2])
        .enable_bwe(Some(Bitrate::bps(config.start_bitrate_bps as u64)))
        .set_stats_interval(Some(Duration::from_secs(1)))
        // A 720p IDR can span well over a hundred packets.
        .set_reordering_size_video(512)
        // Audio is reordered by the engine's jitter buffer; holding packets
        // behind a gap here would turn one loss into a burst of late ones.
        .set_reordering_size_audio(0)
        .set_send_buffer_video(VIDEO_SEND_BUFFER);
    cfg.codec_config()
        .add_h264(108.into(), Some(109.into()), true, 0x42e01f);
    let mut rtc = cfg.build(Instant::now());
    rtc.bwe().set_bitrate(
        Bitrate::bps(config.min_bitrate_bps as u64),
        Bitrate::bps(config.max_bitrate_bps as u64),
    );
    rtc
}

/// The network thread's state.
struct Net {
    rtc: Rtc,
    config: WebRtcConfig,
    role: Role,
    poll: Poll,
    sockets: Vec<UdpSocket>,
    /// `sockets[i]`'s local address (its host candidate).
    addrs: Vec<SocketAddr>,
    sink: TransportSink,
    signals: Box<dyn FnMut(Signal) + Send>,
    clock: Clock,
    commands: Receiver<Command>,
    counters: Arc<Counters>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    mids: HashMap<MediaKind, Mid>,
    pts: HashMap<MediaKind, Pt>,
    pending_offer: Option<SdpPendingOffer>,
    started: Instant,
    connected: bool,
    /// Since when ICE has reported the connection disconnected.
    disconnected_since: Option<Instant>,
    failed: bool,
    video_seq: u64,
    /// Whether audio goes out with RED, by the loss the peer reports.
    redundancy: RedundancyPolicy,
    /// The peer accepted RED for our audio.
    red_negotiated: bool,
    /// How much of our video may be NACK answers, by the path's RTT.
    repair: RepairPolicy,
    /// Outstanding STUN Binding requests: socket index, transaction, sends, last send.
    stun: Vec<(usize, [u8; 12], u32, Instant)>,
}

impl Net {
    fn send_stun(&mut self, i: usize) {
        let (Some(server), Some(entry)) = (
            self.config.stun_server,
            self.stun.iter_mut().find(|e| e.0 == i),
        ) else {
            return;
        };
        if let Some(s) = self.sockets.get(i) {
            let _ = s.send_to(&super::stun::binding_request(entry.1), server);
        }
        entry.2 += 1;
        entry.3 = Instant::now();
    }

    /// Retransmits unanswered STUN requests (every 500 ms, 4 tries).
    fn stun_timers(&mut self) {
        let due: Vec<usize> = self
            .stun
            .iter()
            .filter(|e| e.3.elapsed() >= Duration::from_millis(500))
            .map(|e| e.0)
            .collect();
        for i in due {
            if self.stun.iter().any(|e| e.0 == i && e.2 >= 4) {
                tracing::debug!("STUN server gave no answer for socket {i}");
                self.stun.retain(|e| e.0 != i);
            } else {
                self.send_stun(i);
            }
        }
    }

    /// Handles a datagram if it answers one of our STUN requests.
    fn stun_answer(&mut self, i: usize, source: SocketAddr, buf: &[u8]) -> bool {
        if Some(source) != self.config.stun_server {
            return false;
        }
        let Some(pos) = self
            .stun
            .iter()
            .position(|e| e.0 == i && super::stun::is_response_to(buf, &e.1))
        else {
            return false;
        };
        let (_, tid, _, _) = self.stun.remove(pos);
        let Some(mapped) = super::stun::parse_binding_response(buf, &tid) else {
            return true;
        };
        let Some(&base) = self.addrs.get(i) else {
            return true;
        };
        if mapped == base {
            return true; // not behind a NAT: the host candidate says it all
        }
        match Candidate::server_reflexive(mapped, base, "udp") {
            Ok(c) => {
                if let Some(added) = self.rtc.add_local_candidate(c) {
                    let line = added.to_sdp_string();
                    (self.signals)(Signal::Candidate(line));
                }
            }
            Err(e) => tracing::debug!("server-reflexive candidate {mapped} refused: {e}"),
        }
        true
    }

    fn feedback(&self, f: Feedback) {
        let _ = self.sink.feedback.try_send(f);
    }

    fn start(&mut self) -> Result<()> {
        for &addr in &self.addrs {
            match Candidate::host(addr, "udp") {
                Ok(c) => {
                    self.rtc.add_local_candidate(c);
                }
                Err(e) => tracing::warn!("host candidate {addr} refused: {e}"),
            }
        }
        if self.role == Role::Offerer {
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
            (self.signals)(Signal::Offer(offer.to_sdp_string()));
        }
        if let Some(server) = self.config.stun_server {
            let mut rng = fastrand::Rng::new();
            for i in 0..self.sockets.len() {
                let same_family = self.addrs[i].is_ipv4() == server.is_ipv4();
                if same_family {
                    let mut tid = [0u8; 12];
                    rng.fill(&mut tid);
                    self.stun.push((i, tid, 0, Instant::now()));
                    self.send_stun(i);
                }
            }
        }
        self.feedback(Feedback::Connection(ConnectionState::Connecting));
        Ok(())
    }

    fn fail(&mut self, why: &str) {
        if !self.failed {
            tracing::warn!("peer connection failed: {why}");
            self.failed = true;
            self.feedback(Feedback::Connection(ConnectionState::Failed));
        }
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(64);
        let mut buf = vec![0u8; 2048];
        loop {
            let timeout = match self.drain() {
                Some(t) => t,
                None => return,
            };
            if self.stop.load(Relaxed) || !self.rtc.is_alive() {
                return;
            }
            if !self.connected
                && !self.failed
                && self.started.elapsed() > self.config.connect_timeout
            {
                self.fail("ICE / DTLS did not connect in time");
            }
            if let Some(since) = self.disconnected_since {
                if !self.failed && since.elapsed() > self.config.disconnect_timeout {
                    self.fail("the peer stayed unreachable");
                }
            }
            let wait = timeout
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), Duration::from_millis(100));
            if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    self.fail(&format!("poll: {e}"));
                    return;
                }
            }
            for ev in events.iter() {
                if ev.token() == WAKER {
                    continue;
                }
                let i = ev.token().0;
                loop {
                    let Some(socket) = self.sockets.get(i) else {
                        break;
                    };
                    let local = self.addrs[i];
                    match socket.recv_from(&mut buf) {
                        Ok((n, source)) => {
                            if !self.stun.is_empty() && self.stun_answer(i, source, &buf[..n]) {
                                if self.drain().is_none() {
                                    return;
                                }
                                continue;
                            }
                            let Ok(receive) = Receive::new(Protocol::Udp, source, local, &buf[..n])
                            else {
                                continue;
                            };
                            if let Err(e) = self
                                .rtc
                                .handle_input(Input::Receive(Instant::now(), receive))
                            {
                                tracing::debug!("dropped datagram from {source}: {e}");
                            }
                            if self.drain().is_none() {
                                return;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            tracing::debug!("recv on {local}: {e}");
                            break;
                        }
                    }
                }
            }
            while let Ok(cmd) = self.commands.try_recv() {
                self.command(cmd);
                if self.drain().is_none() {
                    return;
                }
            }
            if !self.stun.is_empty() {
                self.stun_timers();
            }
            if self
                .rtc
                .handle_input(Input::Timeout(Instant::now()))
                .is_err()
            {
                return;
            }
        }
    }

    /// Runs str0m until it wants to wait; returns when, or `None` when the
    /// connection is over.
    fn drain(&mut self) -> Option<Instant> {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => return Some(t),
                Ok(Output::Transmit(t)) => {
                    if let Some(i) = self.addrs.iter().position(|a| *a == t.source) {
                        let _ = self.sockets[i].send_to(&t.contents, t.destination);
                    }
                }
                Ok(Output::Event(e)) => self.event(e),
                Err(e) => {
                    self.fail(&format!("rtc: {e}"));
                    return None;
                }
            }
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
                self.configure_video_repair();
                self.feedback(Feedback::Connection(ConnectionState::Connected));
                // Whatever was encoded before is gone: start with a keyframe.
                self.feedback(Feedback::KeyframeRequest);
            }
            RtcEvent::IceConnectionStateChange(state) => match state {
                IceConnectionState::Disconnected if self.connected => {
                    self.disconnected_since.get_or_insert_with(Instant::now);
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
                let (channel, seq, keyframe) = match kind {
                    MediaKind::Audio if codec == Codec::Opus => {
                        (&self.sink.audio, d.time.numer() / 960, false)
                    }
                    MediaKind::Video if codec == Codec::H264 => {
                        // A gap shows as a skipped sequence number: the
                        // decoder then waits for (and asks for) a keyframe.
                        self.video_seq += if d.contiguous { 1 } else { 2 };
                        (&self.sink.video, self.video_seq, d.is_keyframe())
                    }
                    _ => return,
                };
                let now = self.clock.now_us();
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
                    self.clock.at_system_time(at).map(|us| us.min(now))
                });
                let capture_us = captured.unwrap_or(now);
                let frame = EncodedFrame {
                    kind,
                    seq,
                    timestamp: d.time.numer(),
                    capture_us,
                    encoded_us: capture_us,
                    capture_known: captured.is_some(),
                    keyframe,
                    data: d.data.to_vec(),
                };
                match channel.try_send(frame) {
                    Ok(()) => self.counters.delivered.fetch_add(1, Relaxed),
                    Err(_) => self.counters.dropped_full.fetch_add(1, Relaxed),
                };
            }
            RtcEvent::KeyframeRequest(_) => self.feedback(Feedback::KeyframeRequest),
            RtcEvent::EgressBitrateEstimate(BweKind::Twcc { estimate, .. }) => self.feedback(
                Feedback::BitrateEstimate(estimate.as_u64().min(u32::MAX as u64) as u32),
            ),
            RtcEvent::PeerStats(p) => {
                let now = self.clock.now_us();
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
                if let Some(loss) = p.egress_loss_fraction {
                    if let Some(on) = self.redundancy.on_loss_report(now, loss) {
                        if let Some(&mid) = self.mids.get(&MediaKind::Audio) {
                            self.rtc.direct_api().set_red_send(mid, on);
                        }
                    }
                }
                self.feedback(Feedback::NetworkStats(NetworkStats {
                    rtt_us: p.rtt.map(|d| d.as_micros() as u64),
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
                }))
            }
            RtcEvent::MediaIngressStats(s) => {
                if self.kind_of(s.mid) == Some(MediaKind::Video) {
                    let _ = self.sink.feedback.try_send(Feedback::NacksSent(s.nacks));
                }
            }
            _ => {}
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

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Send(frame) => {
                if !self.connected {
                    return; // str0m would drop it too
                }
                let Some((mid, pt)) = self.payload_type(frame.kind) else {
                    return;
                };
                let freq = match frame.kind {
                    MediaKind::Audio => Frequency::FORTY_EIGHT_KHZ,
                    MediaKind::Video => Frequency::NINETY_KHZ,
                };
                let wallclock = self.clock.instant_at(frame.capture_us);
                if let Some(w) = self.rtc.writer(mid) {
                    if let Err(e) = w.write(
                        pt,
                        wallclock,
                        MediaTime::new(frame.timestamp, freq),
                        frame.data,
                    ) {
                        tracing::debug!("write {:?}: {e}", frame.kind);
                    }
                }
            }
            Command::RequestKeyframe => {
                if let Some(mid) = self.mids.get(&MediaKind::Video).copied() {
                    if let Some(mut w) = self.rtc.writer(mid) {
                        let _ = w.request_keyframe(None, KeyframeRequestKind::Pli);
                    }
                }
            }
            Command::Signal(Signal::Offer(sdp)) => {
                if self.role != Role::Answerer {
                    return self.fail("got an offer but this side offers");
                }
                let offer = match SdpOffer::from_sdp_string(&sdp) {
                    Ok(o) => o,
                    Err(e) => return self.fail(&format!("bad offer: {e}")),
                };
                match self.rtc.sdp_api().accept_offer(offer) {
                    Ok(answer) => (self.signals)(Signal::Answer(answer.to_sdp_string())),
                    Err(e) => self.fail(&format!("offer refused: {e}")),
                }
            }
            Command::Signal(Signal::Answer(sdp)) => {
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
            Command::Signal(Signal::Candidate(line)) => {
                let line = line.trim().trim_start_matches("a=");
                match Candidate::from_sdp_string(line) {
                    Ok(c) => self.rtc.add_remote_candidate(c),
                    Err(e) => tracing::debug!("ignoring candidate {line:?}: {e}"),
                }
            }
        }
    }
}
