//! The network transport: standard WebRTC on the wire through str0m (ICE,
//! DTLS-SRTP, RTP/RTCP with NACK/RTX, PLI, TWCC), so browsers and other
//! WebRTC endpoints are peers.
//!
//! The connection itself — str0m and libmedia's decisions around it — is
//! the I/O-free [`PeerConnection`]. This module's thread ("media-net") owns
//! the UDP sockets (one per host candidate address), STUN and the clock,
//! and drives it with a mio poll loop. The engine talks to it through a command channel plus a
//! waker; it answers through the engine's [`TransportSink`]. Offer, answer
//! and trickled candidates leave through the `signals` callback and come in
//! through [`WebRtcTransport::handle_signal`].

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use str0m::Candidate;

use super::peer::{PeerConnection, PeerOutput};
use super::{Feedback, Transport, TransportSink, TransportStats};
use crate::clock::Clock;
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
    /// The largest round trip measured since the previous report (they
    /// are measured 40 times a second and reported once: a queue's peak
    /// can come and go in between).
    pub rtt_max_us: Option<u64>,
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
    /// See [`Transport::set_wanted_bps`]; read by the connection's thread.
    wanted_bps: Arc<AtomicU64>,
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
        let wanted_bps = Arc::new(AtomicU64::new(0));
        let peer = PeerConnection::new(config.clone(), role, clock, &local_addrs, Instant::now())?;
        let mut net = Net {
            peer,
            stun_server: config.stun_server,
            poll,
            sockets,
            addrs: local_addrs.clone(),
            sink,
            signals,
            commands: rx,
            counters: counters.clone(),
            stop: stop.clone(),
            wanted_bps: wanted_bps.clone(),
            stun: Vec::new(),
        };
        net.start_stun();
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
            wanted_bps,
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

    fn set_wanted_bps(&self, bps: u64) {
        self.wanted_bps.store(bps, Relaxed);
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

/// The network thread: sockets, STUN, the clock and the engine's channels
/// around one [`PeerConnection`].
struct Net {
    peer: PeerConnection,
    stun_server: Option<SocketAddr>,
    poll: Poll,
    sockets: Vec<UdpSocket>,
    /// `sockets[i]`'s local address (its host candidate).
    addrs: Vec<SocketAddr>,
    sink: TransportSink,
    signals: Box<dyn FnMut(Signal) + Send>,
    commands: Receiver<Command>,
    counters: Arc<Counters>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    wanted_bps: Arc<AtomicU64>,
    /// Outstanding STUN Binding requests: socket index, transaction, sends, last send.
    stun: Vec<(usize, [u8; 12], u32, Instant)>,
}

impl Net {
    fn send_stun(&mut self, i: usize) {
        let (Some(server), Some(entry)) =
            (self.stun_server, self.stun.iter_mut().find(|e| e.0 == i))
        else {
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
        if Some(source) != self.stun_server {
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
            Ok(c) => self.peer.add_local_candidate(c),
            Err(e) => tracing::debug!("server-reflexive candidate {mapped} refused: {e}"),
        }
        true
    }

    /// Asks the STUN server (if any) for each socket's public address.
    fn start_stun(&mut self) {
        let Some(server) = self.stun_server else {
            return;
        };
        let mut rng = fastrand::Rng::new();
        for i in 0..self.sockets.len() {
            if self.addrs[i].is_ipv4() == server.is_ipv4() {
                let mut tid = [0u8; 12];
                rng.fill(&mut tid);
                self.stun.push((i, tid, 0, Instant::now()));
                self.send_stun(i);
            }
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
            if self.stop.load(Relaxed) {
                self.peer.close();
                return;
            }
            let wait = timeout
                .saturating_duration_since(Instant::now())
                .clamp(Duration::from_millis(1), Duration::from_millis(100));
            if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    tracing::warn!("peer connection failed: poll: {e}");
                    let _ = self
                        .sink
                        .feedback
                        .try_send(Feedback::Connection(ConnectionState::Failed));
                    return;
                }
            }
            for ev in events.iter() {
                if ev.token() == WAKER {
                    continue;
                }
                let i = ev.token().0;
                while let Some(socket) = self.sockets.get(i) {
                    let local = self.addrs[i];
                    match socket.recv_from(&mut buf) {
                        Ok((n, source)) => {
                            if !self.stun.is_empty() && self.stun_answer(i, source, &buf[..n]) {
                                if self.drain().is_none() {
                                    return;
                                }
                                continue;
                            }
                            self.peer
                                .handle_receive(Instant::now(), source, local, &buf[..n]);
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
                match cmd {
                    Command::Send(frame) => self.peer.send(Instant::now(), frame),
                    Command::RequestKeyframe => self.peer.request_keyframe(),
                    Command::Signal(signal) => self.peer.handle_signal(signal),
                }
                if self.drain().is_none() {
                    return;
                }
            }
            if !self.stun.is_empty() {
                self.stun_timers();
            }
            self.peer.set_wanted_bps(self.wanted_bps.load(Relaxed));
            self.peer.handle_timeout(Instant::now());
        }
    }

    /// Carries out what the connection asks until it wants to wait;
    /// returns when, or `None` when the connection is over.
    fn drain(&mut self) -> Option<Instant> {
        loop {
            match self.peer.poll_output() {
                PeerOutput::Timeout(t) => return Some(t),
                PeerOutput::Closed => return None,
                PeerOutput::Transmit(t) => {
                    if let Some(i) = self.addrs.iter().position(|a| *a == t.source) {
                        let _ = self.sockets[i].send_to(&t.contents, t.destination);
                    }
                }
                PeerOutput::Signal(signal) => (self.signals)(signal),
                PeerOutput::Feedback(f) => {
                    let _ = self.sink.feedback.try_send(f);
                }
                PeerOutput::Media(frame) => {
                    let channel = match frame.kind {
                        MediaKind::Audio => &self.sink.audio,
                        MediaKind::Video => &self.sink.video,
                    };
                    match channel.try_send(frame) {
                        Ok(()) => self.counters.delivered.fetch_add(1, Relaxed),
                        Err(_) => self.counters.dropped_full.fetch_add(1, Relaxed),
                    };
                }
            }
        }
    }
}
