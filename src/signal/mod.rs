//! Signaling: the connection to the rendezvous server (`server/`), and the
//! calls and channels it arranges. The [`call`] controller decides; the
//! [`SignalingClient`] shell owns the WebSocket on its own thread
//! ("media-signal"), keeps the heartbeat, reconnects with backoff, and
//! starts / feeds / stops the engine's peer session.

pub mod call;

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};
use media_protocol::{ClientMsg, ServerMsg};
use tungstenite::{Message, WebSocket};

use self::call::{Action, Controller};
use crate::engine::Core;
use crate::error::{Error, ErrorKind, Result};
use crate::transport::webrtc::{Signal, WebRtcConfig};
use crate::Event;

/// Where and who to register as.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// `ws://host:port/ws`.
    pub url: String,
    pub app_id: String,
    pub user_id: String,
    pub nickname: String,
    pub token: String,
    /// Network settings for the peer sessions of calls.
    pub network: WebRtcConfig,
    /// Reconnection attempts after the connection breaks (0: none).
    pub max_reconnects: u32,
}

impl ServerConfig {
    pub fn new(url: &str, app_id: &str, user_id: &str, token: &str) -> Self {
        ServerConfig {
            url: url.into(),
            app_id: app_id.into(),
            user_id: user_id.into(),
            nickname: user_id.into(),
            token: token.into(),
            network: WebRtcConfig::default(),
            max_reconnects: 5,
        }
    }
}

/// The server connection's state, as [`Event::Server`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerState {
    Connecting,
    /// Registered: calls can be placed and received.
    Connected,
    /// The connection broke; trying again (attempt counts from 1).
    Reconnecting {
        attempt: u32,
    },
    /// Gave up. `code` is the server's error code (`token_expired`,
    /// `token_invalid`, `token_wrong_scope`, `unknown_app`, `replaced`,
    /// `server_full`) or `unreachable`.
    Failed {
        code: String,
        message: String,
    },
    /// Closed on request.
    Disconnected,
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEndReason {
    /// The callee is not online.
    Offline,
    /// The callee is in another call.
    Busy,
    Rejected,
    /// Nobody answered in time.
    Timeout,
    /// The caller gave up while it rang.
    Cancelled,
    Hangup,
    /// The other side's connection to the server was lost.
    PeerDropped,
    /// Our connection to the server was lost.
    ConnectionLost,
    /// The media connection failed (one side could not reach the other,
    /// or a connection that was up stayed unreachable); either side's
    /// failure ends the call on both.
    MediaFailed,
    /// The server refused a request about the call (its error code).
    Error(String),
}

/// 1v1 call progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// Someone calls: [`crate::Engine::accept`] or [`crate::Engine::reject`].
    Incoming {
        call_id: String,
        from_user: String,
        from_nickname: String,
        video: bool,
    },
    /// The callee's app is ringing.
    Ringing { call_id: String },
    /// The callee accepted; media is being connected.
    Accepted { call_id: String },
    /// The peer muted or unmuted its microphone or camera.
    RemoteMute {
        call_id: String,
        audio_muted: bool,
        video_muted: bool,
    },
    Ended {
        call_id: String,
        reason: CallEndReason,
    },
}

/// Channel membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    /// We joined as `uid`; `members` were already there (uid, user id).
    Joined {
        channel: String,
        uid: u32,
        members: Vec<(u32, String)>,
    },
    UserJoined {
        channel: String,
        uid: u32,
        user_id: String,
    },
    /// A member left: on purpose (`dropped` false) or lost (true).
    UserOffline {
        channel: String,
        uid: u32,
        dropped: bool,
    },
    /// A member muted or unmuted its microphone or camera.
    RemoteMute {
        channel: String,
        uid: u32,
        audio_muted: bool,
        video_muted: bool,
    },
    /// We left (on request, or because the server connection is gone for
    /// good).
    Left { channel: String },
}

enum Command {
    Send(ClientMsg),
    /// The transport to remote `uid` (0: the call's peer) failed.
    MediaFailed(u32),
}

struct ClientShared {
    controller: Mutex<Controller>,
    core: Weak<Core>,
    outgoing: Sender<Command>,
    /// Wakes the signaling thread when something is queued to send.
    waker: Arc<mio::Waker>,
    network: WebRtcConfig,
    /// Signals of the call that arrived before its connection existed (when
    /// connecting ahead of the answer was not possible); replayed on start.
    early_signals: Mutex<Vec<Signal>>,
}

impl ClientShared {
    fn controller(&self) -> std::sync::MutexGuard<'_, Controller> {
        self.controller.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The network settings for a peer connection, with or without video.
    fn network(&self, video: bool) -> WebRtcConfig {
        WebRtcConfig {
            video,
            ..self.network.clone()
        }
    }

    fn early_signals(&self) -> std::sync::MutexGuard<'_, Vec<Signal>> {
        self.early_signals.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where the call's own connection sends its offer, answer and candidates.
    fn call_signals(self: &Arc<Self>, call_id: &str) -> Box<dyn FnMut(Signal) + Send> {
        let me = Arc::downgrade(self);
        let id = call_id.to_string();
        Box::new(move |s| {
            if let Some(me) = me.upgrade() {
                let actions = me.controller().on_peer_signal(&id, &s);
                me.execute(actions);
            }
        })
    }

    fn emit(&self, e: Event) {
        if let Some(core) = self.core.upgrade() {
            core.emit(e);
        }
    }

    /// Carries out the controller's actions (never with its lock held).
    fn execute(self: &Arc<Self>, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Send(m) => {
                    let _ = self.outgoing.send(Command::Send(m));
                    let _ = self.waker.wake();
                }
                Action::Emit(e) => self.emit(e),
                Action::Preconnect {
                    call_id,
                    role,
                    video,
                } => {
                    let Some(core) = self.core.upgrade() else {
                        continue;
                    };
                    let signals = self.call_signals(&call_id);
                    // Best effort: without it the call connects once accepted.
                    if let Err(e) = core.preconnect_peer(role, self.network(video), signals) {
                        tracing::debug!("call {call_id} not connected ahead: {e}");
                    }
                }
                Action::StartPeer {
                    call_id,
                    role,
                    video,
                } => {
                    let Some(core) = self.core.upgrade() else {
                        continue;
                    };
                    let started = match core.release_peer() {
                        Ok(true) => Ok(()),
                        Ok(false) => {
                            let signals = self.call_signals(&call_id);
                            let started = core.start_peer(role, self.network(video), signals);
                            // What came while there was no connection to take it.
                            let early = std::mem::take(&mut *self.early_signals());
                            for s in early {
                                let _ = core.handle_peer_signal(s);
                            }
                            started
                        }
                        Err(e) => Err(e),
                    };
                    match started {
                        Ok(()) => {
                            // Let the peer know if we start muted.
                            let (audio_muted, video_muted) = core.muted();
                            if audio_muted || video_muted {
                                let more =
                                    self.controller().on_local_mute(audio_muted, video_muted);
                                self.execute(more);
                            }
                        }
                        Err(e) => {
                            self.emit(Event::Error {
                                kind: e.kind(),
                                message: format!("call {call_id}: {}", e.message()),
                            });
                            // Without media the call is pointless: end it.
                            let more = self.controller().hangup();
                            if let Ok(more) = more {
                                self.execute(more);
                            }
                        }
                    }
                }
                Action::PeerSignal(s) => {
                    if let Some(core) = self.core.upgrade() {
                        if let Err(e) = core.handle_peer_signal(s.clone()) {
                            tracing::debug!("keeping a signal until the call connects: {e}");
                            self.early_signals().push(s);
                        }
                    }
                }
                Action::StopPeer => {
                    self.early_signals().clear();
                    if let Some(core) = self.core.upgrade() {
                        core.stop_peer();
                    }
                }
                Action::StartChannel {
                    channel,
                    broadcaster,
                } => {
                    let Some(core) = self.core.upgrade() else {
                        continue;
                    };
                    if let Err(e) = core.start_channel(broadcaster) {
                        self.emit(Event::Error {
                            kind: e.kind(),
                            message: format!("channel {channel}: {}", e.message()),
                        });
                        // Without media the channel is pointless: leave it.
                        let more = self.controller().on_channel_failed(&channel);
                        self.execute(more);
                    }
                }
                Action::AddMember {
                    uid,
                    role,
                    broadcaster,
                } => {
                    let Some(core) = self.core.upgrade() else {
                        continue;
                    };
                    let me = Arc::downgrade(self);
                    let signals = Box::new(move |s| {
                        if let Some(me) = me.upgrade() {
                            let actions = me.controller().on_member_signal(uid, &s);
                            me.execute(actions);
                        }
                    });
                    match core.add_channel_member(
                        uid,
                        broadcaster,
                        role,
                        self.network(true),
                        signals,
                    ) {
                        Ok(()) => {
                            // The member learns if we are muted.
                            let (audio_muted, video_muted) = core.muted();
                            if audio_muted || video_muted {
                                let more = self.controller().mute_to(uid, audio_muted, video_muted);
                                self.execute(more);
                            }
                        }
                        Err(e) => {
                            self.controller().on_member_failed(uid);
                            self.emit(Event::Error {
                                kind: e.kind(),
                                message: format!("media with uid {uid}: {}", e.message()),
                            });
                        }
                    }
                }
                Action::MemberSignal { uid, signal } => {
                    if let Some(core) = self.core.upgrade() {
                        let _ = core.handle_member_signal(uid, signal);
                    }
                }
                Action::RemoveMember { uid } => {
                    if let Some(core) = self.core.upgrade() {
                        core.remove_channel_member(uid);
                    }
                }
                Action::StopChannel => {
                    if let Some(core) = self.core.upgrade() {
                        core.stop_channel();
                    }
                }
            }
        }
    }
}

/// See the module docs. Dropping it leaves the server and ends any call.
pub struct SignalingClient {
    shared: Arc<ClientShared>,
    stop: Arc<AtomicBool>,
    wake: Sender<()>,
    thread: Option<JoinHandle<()>>,
}

fn parse_ws_url(url: &str) -> Result<(String, SocketAddr)> {
    let rest = url.strip_prefix("ws://").ok_or_else(|| {
        Error::new(
            ErrorKind::Unsupported,
            format!("server url {url:?}: only ws:// is supported (put TLS in front with a proxy)"),
        )
    })?;
    let host = rest.split('/').next().unwrap_or_default();
    let addr = host
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            Error::invalid_argument(format!("server url {url:?}: cannot resolve {host:?}"))
        })?;
    Ok((url.to_string(), addr))
}

enum Ended {
    Stopped,
    Lost(String),
    Refused(String, String),
}

impl SignalingClient {
    pub(crate) fn start(config: ServerConfig, core: Weak<Core>) -> Result<Self> {
        let (url, addr) = parse_ws_url(&config.url)?;
        if config.app_id.is_empty() || config.token.is_empty() {
            return Err(Error::invalid_argument(
                "app id and token must not be empty",
            ));
        }
        // What the server would refuse, refused here with a clear error.
        if !media_protocol::valid_user_id(&config.user_id) {
            return Err(Error::invalid_argument(format!(
                "user id {:?}: 1 to 64 of A-Z a-z 0-9 - _ . @",
                config.user_id
            )));
        }
        if !media_protocol::valid_nickname(&config.nickname) {
            return Err(Error::invalid_argument(format!(
                "nickname: at most {} characters, no control characters",
                media_protocol::MAX_NICKNAME_CHARS
            )));
        }
        let (out_tx, out_rx) = unbounded();
        let poll = mio::Poll::new().map_err(|e| Error::internal(format!("poll: {e}")))?;
        let waker = Arc::new(
            mio::Waker::new(poll.registry(), WAKER)
                .map_err(|e| Error::internal(format!("waker: {e}")))?,
        );
        let salt = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let shared = Arc::new(ClientShared {
            controller: Mutex::new(Controller::new(&config.user_id, salt & 0xffff_ffff)),
            core,
            outgoing: out_tx,
            waker,
            network: config.network.clone(),
            early_signals: Mutex::new(Vec::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (wake_tx, wake_rx) = unbounded();
        let thread = {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::Builder::new()
                .name("media-signal".into())
                .spawn(move || run(config, url, addr, shared, out_rx, stop, wake_rx, poll))
                .map_err(|e| Error::internal(format!("spawn media-signal: {e}")))?
        };
        Ok(SignalingClient {
            shared,
            stop,
            wake: wake_tx,
            thread: Some(thread),
        })
    }

    /// What the engine calls when the transport to a remote fails: the
    /// signaling thread then ends the call (or the channel link) with
    /// `media_failed` on both sides.
    pub(crate) fn media_failed_hook(&self) -> crate::engine::MediaFailedHook {
        let me = Arc::downgrade(&self.shared);
        Arc::new(move |uid| {
            if let Some(me) = me.upgrade() {
                let _ = me.outgoing.send(Command::MediaFailed(uid));
                let _ = me.waker.wake();
            }
        })
    }

    fn run_actions(&self, f: impl FnOnce(&mut Controller) -> Result<Vec<Action>>) -> Result<()> {
        let actions = f(&mut self.shared.controller())?;
        self.shared.execute(actions);
        Ok(())
    }

    pub(crate) fn call(&self, user_id: &str, video: bool) -> Result<String> {
        let (id, actions) = self.shared.controller().call(user_id, video)?;
        self.shared.execute(actions);
        Ok(id)
    }

    pub(crate) fn accept(&self, call_id: &str) -> Result<()> {
        self.run_actions(|c| c.accept(call_id))
    }

    pub(crate) fn reject(&self, call_id: &str) -> Result<()> {
        self.run_actions(|c| c.reject(call_id))
    }

    pub(crate) fn hangup(&self) -> Result<()> {
        self.run_actions(|c| c.hangup())
    }

    pub(crate) fn renew_token(&self, token: &str) -> Result<()> {
        self.run_actions(|c| {
            if !c.registered() {
                return Err(Error::invalid_state("not connected to the server"));
            }
            Ok(vec![Action::Send(ClientMsg::RenewToken {
                token: token.to_string(),
            })])
        })
    }

    pub(crate) fn mute_changed(&self, audio_muted: bool, video_muted: bool) {
        let actions = self
            .shared
            .controller()
            .on_local_mute(audio_muted, video_muted);
        self.shared.execute(actions);
    }

    pub(crate) fn join(&self, channel: &str, uid: u32, audience: bool) -> Result<()> {
        self.run_actions(|c| c.join(channel, uid, audience))
    }

    pub(crate) fn leave(&self, channel: &str) -> Result<()> {
        self.run_actions(|c| c.leave(channel))
    }
}

impl Drop for SignalingClient {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        let _ = self.wake.send(());
        let _ = self.shared.waker.wake();
        if let Some(t) = self.thread.take() {
            // The thread notices within one 5 ms read; a connect in progress
            // can take up to its 5 s timeout. Never wait longer than that.
            let deadline = Instant::now() + Duration::from_secs(6);
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        let actions = self.shared.controller().on_closed();
        // Ending the call locally: a hang-up, not a lost connection.
        let actions = actions
            .into_iter()
            .map(|a| match a {
                Action::Emit(Event::Call(CallEvent::Ended { call_id, .. })) => {
                    Action::Emit(Event::Call(CallEvent::Ended {
                        call_id,
                        reason: CallEndReason::Hangup,
                    }))
                }
                other => other,
            })
            .collect();
        self.shared.execute(actions);
        self.shared.emit(Event::Server(ServerState::Disconnected));
    }
}

/// Codes after which reconnecting cannot help.
fn is_final(code: &str) -> bool {
    matches!(
        code,
        "token_expired"
            | "token_invalid"
            | "token_wrong_scope"
            | "unknown_app"
            | "replaced"
            | "bad_message"
    )
}

#[allow(clippy::too_many_arguments)]
fn run(
    config: ServerConfig,
    url: String,
    addr: SocketAddr,
    shared: Arc<ClientShared>,
    outgoing: Receiver<Command>,
    stop: Arc<AtomicBool>,
    wake: Receiver<()>,
    mut poll: mio::Poll,
) {
    let mut attempt = 0u32;
    loop {
        shared.emit(Event::Server(if attempt == 0 {
            ServerState::Connecting
        } else {
            ServerState::Reconnecting { attempt }
        }));
        let ended = match connect(&url, addr) {
            Ok(ws) => session(
                ws,
                &config,
                &shared,
                &outgoing,
                &stop,
                &mut attempt,
                &mut poll,
            ),
            Err(e) => Ended::Lost(e),
        };
        match ended {
            Ended::Stopped => return,
            Ended::Refused(code, message) => {
                let actions = shared.controller().on_closed();
                shared.execute(actions);
                shared.emit(Event::Server(ServerState::Failed { code, message }));
                return;
            }
            Ended::Lost(why) => {
                let actions = shared.controller().on_connection_lost();
                shared.execute(actions);
                // Whatever was queued belonged to the old connection.
                while outgoing.try_recv().is_ok() {}
                attempt += 1;
                if attempt > config.max_reconnects {
                    let actions = shared.controller().on_closed();
                    shared.execute(actions);
                    shared.emit(Event::Server(ServerState::Failed {
                        code: "unreachable".into(),
                        message: why,
                    }));
                    return;
                }
                let backoff = Duration::from_millis(500 * (1 << attempt.min(5)));
                match wake.recv_timeout(backoff) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                if stop.load(Relaxed) {
                    return;
                }
            }
        }
    }
}

fn connect(url: &str, addr: SocketAddr) -> std::result::Result<WebSocket<TcpStream>, String> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).ok();
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let (ws, _) =
        tungstenite::client(url, stream).map_err(|e| format!("websocket handshake: {e}"))?;
    // From here on the session waits on the socket and the waker together.
    ws.get_ref()
        .set_nonblocking(true)
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

const SOCKET: mio::Token = mio::Token(0);
const WAKER: mio::Token = mio::Token(1);

/// One connection's life: register, then react to the server's messages,
/// the host's requests (the waker) and the heartbeat, whichever comes
/// first, without polling.
fn session(
    mut ws: WebSocket<TcpStream>,
    config: &ServerConfig,
    shared: &Arc<ClientShared>,
    outgoing: &Receiver<Command>,
    stop: &AtomicBool,
    attempt: &mut u32,
    poll: &mut mio::Poll,
) -> Ended {
    use std::os::fd::AsRawFd;
    let fd = ws.get_ref().as_raw_fd();
    let mut source = mio::unix::SourceFd(&fd);
    if let Err(e) = poll.registry().register(
        &mut source,
        SOCKET,
        mio::Interest::READABLE | mio::Interest::WRITABLE,
    ) {
        return Ended::Lost(format!("register: {e}"));
    }
    let ended = session_loop(&mut ws, config, shared, outgoing, stop, attempt, poll);
    let _ = poll.registry().deregister(&mut source);
    ended
}

fn session_loop(
    ws: &mut WebSocket<TcpStream>,
    config: &ServerConfig,
    shared: &Arc<ClientShared>,
    outgoing: &Receiver<Command>,
    stop: &AtomicBool,
    attempt: &mut u32,
    poll: &mut mio::Poll,
) -> Ended {
    let queue = |ws: &mut WebSocket<TcpStream>, m: &ClientMsg| -> std::result::Result<(), String> {
        let text = serde_json::to_string(m).expect("client messages serialize");
        match ws.send(Message::Text(text.into())) {
            Ok(()) => Ok(()),
            // Queued in the socket's write buffer; flushed when writable.
            Err(e) if would_block(&e) => Ok(()),
            Err(e) => Err(format!("send: {e}")),
        }
    };
    let register = ClientMsg::Register {
        app_id: config.app_id.clone(),
        user_id: config.user_id.clone(),
        nickname: config.nickname.clone(),
        token: config.token.clone(),
    };
    if let Err(e) = queue(ws, &register) {
        return Ended::Lost(e);
    }
    let mut heartbeat = Duration::from_secs(2);
    let mut last_ping = Instant::now();
    let mut last_heard = Instant::now();
    let mut registered = false;
    let mut events = mio::Events::with_capacity(8);
    loop {
        if stop.load(Relaxed) {
            // Deliver what the user asked for last (a reject, a hang-up).
            let _ = ws.get_ref().set_nonblocking(false);
            let _ = ws.get_ref().set_write_timeout(Some(Duration::from_secs(1)));
            while let Ok(cmd) = outgoing.try_recv() {
                if let Command::Send(m) = cmd {
                    if queue(ws, &m).is_err() {
                        break;
                    }
                }
            }
            let _ = ws.close(None);
            let _ = ws.flush();
            return Ended::Stopped;
        }
        // Everything the server sent so far.
        loop {
            match ws.read() {
                Ok(Message::Text(text)) => {
                    last_heard = Instant::now();
                    let msg: ServerMsg = match serde_json::from_str(&text) {
                        Ok(m) => m,
                        Err(e) => {
                            tracing::warn!("unreadable server message: {e}");
                            continue;
                        }
                    };
                    let mut now_registered = false;
                    match &msg {
                        ServerMsg::Registered { heartbeat_ms, .. } => {
                            registered = true;
                            now_registered = true;
                            *attempt = 0;
                            heartbeat = Duration::from_millis((*heartbeat_ms).clamp(500, 30_000));
                        }
                        ServerMsg::Error {
                            code,
                            message,
                            call_id: None,
                            channel: None,
                        } if is_final(code) || (!registered && code == "server_full") => {
                            return Ended::Refused(code.clone(), message.clone());
                        }
                        _ => {}
                    }
                    let actions = shared.controller().on_server(msg);
                    shared.execute(actions);
                    // Only now can the host place calls.
                    if now_registered {
                        shared.emit(Event::Server(ServerState::Connected));
                    }
                }
                Ok(Message::Close(_)) => {
                    return Ended::Lost("the server closed the connection".into())
                }
                Ok(_) => last_heard = Instant::now(),
                Err(e) if would_block(&e) => break,
                Err(e) => return Ended::Lost(format!("read: {e}")),
            }
        }
        while let Ok(cmd) = outgoing.try_recv() {
            match cmd {
                Command::Send(m) => {
                    if let Err(e) = queue(ws, &m) {
                        return Ended::Lost(e);
                    }
                }
                // Here, not on the engine thread that noticed: ending the
                // session joins that thread. What it sends comes next.
                Command::MediaFailed(uid) => {
                    let actions = shared.controller().on_media_failed(uid);
                    shared.execute(actions);
                }
            }
        }
        if last_ping.elapsed() >= heartbeat {
            last_ping = Instant::now();
            if let Err(e) = queue(ws, &ClientMsg::Ping) {
                return Ended::Lost(e);
            }
        }
        match ws.flush() {
            Ok(()) => {}
            Err(e) if would_block(&e) => {}
            Err(e) => return Ended::Lost(format!("send: {e}")),
        }
        // Every ping gets a pong: a server silent for three heartbeats is gone.
        if last_heard.elapsed() > heartbeat * 3 + Duration::from_secs(1) {
            return Ended::Lost("the server stopped answering".into());
        }
        let next_ping = heartbeat.saturating_sub(last_ping.elapsed());
        if let Err(e) = poll.poll(&mut events, Some(next_ping)) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Ended::Lost(format!("poll: {e}"));
            }
        }
    }
}
