//! The rendezvous state machine: registered users, 1v1 calls and channels.
//!
//! Pure and sans-IO: connections are ids, time comes in as an argument, and
//! every call returns the messages to send and the connections to close.
//! The WebSocket shell in `server.rs` owns sockets and the clock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use crate::protocol::{
    valid_call_id, valid_channel, valid_nickname, valid_user_id, ClientMsg, EndReason, MediaKind,
    Member, OfflineReason, Peer, Role, ServerMsg, MAX_NICKNAME_CHARS,
};
use crate::token::{self, TokenError};

/// A connection, as the shell numbers them.
pub type ConnId = u64;

/// Limits and timings.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// App id → secret used to sign its tokens.
    pub apps: HashMap<String, Vec<u8>>,
    /// How long a call rings before it times out.
    pub ring_timeout_ms: u64,
    /// How often clients should send `ping`.
    pub heartbeat_ms: u64,
    /// Heartbeats that may be missed before a connection counts as dropped.
    pub missed_heartbeats: u64,
    /// How long before expiry a client is warned about its token.
    pub token_warning_s: u64,
    /// Broadcasters per channel (media is a full mesh between them).
    pub max_broadcasters: usize,
    /// Members per channel, broadcasters and audience together.
    pub max_members: usize,
    /// Channels one connection may be in.
    pub max_channels_per_conn: usize,
    /// Connections, registered or not. When all are taken, a new connection
    /// replaces an unregistered one, chosen as for `max_unregistered`; only
    /// when every one is registered is it refused with `server_full`.
    pub max_connections: usize,
    /// Connections that have not registered yet (at least 1). When that many
    /// wait, a new connection replaces one of them, which gets `server_busy`
    /// and is closed: the oldest from the source that holds the most. So
    /// clients that hold these slots cannot lock out one that registers
    /// promptly, least of all one from another address.
    pub max_unregistered: usize,
    /// How long a connection may stay unregistered; pings do not extend it.
    /// Then it gets `register_timeout` and is closed.
    pub register_timeout_ms: u64,
    /// Token bucket per connection: burst size and refill per second.
    pub rate_burst: f64,
    pub rate_per_sec: f64,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            apps: HashMap::new(),
            ring_timeout_ms: 30_000,
            heartbeat_ms: 2_000,
            missed_heartbeats: 3,
            token_warning_s: 30,
            max_broadcasters: 4,
            max_members: 64,
            max_channels_per_conn: 8,
            max_connections: 1_000,
            max_unregistered: 100,
            register_timeout_ms: 10_000,
            rate_burst: 100.0,
            rate_per_sec: 50.0,
        }
    }
}

/// The current time twice: monotonic for timers, wall clock for token expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub mono_ms: u64,
    pub unix_s: u64,
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Send(ConnId, ServerMsg),
    /// Close the connection after sending what was queued for it.
    Close(ConnId),
}

#[derive(Debug)]
struct User {
    app_id: String,
    user_id: String,
    nickname: String,
    scope: String,
    exp: u64,
    warned: bool,
}

#[derive(Debug)]
struct Conn {
    user: Option<User>,
    /// Where it comes from, as the shell tells (an address, a prefix).
    source: IpAddr,
    connected_ms: u64,
    last_seen_ms: u64,
    tokens: f64,
    refilled_ms: u64,
    strikes: u32,
    call: Option<String>,
    channels: BTreeSet<String>,
}

#[derive(Debug)]
enum CallState {
    Ringing { deadline_ms: u64 },
    Active,
}

#[derive(Debug)]
struct Call {
    caller: ConnId,
    callee: ConnId,
    state: CallState,
}

#[derive(Debug, Default)]
struct Channel {
    members: BTreeMap<u32, (ConnId, Role)>,
    next_uid: u32,
}

/// See the module docs.
#[derive(Debug)]
pub struct Hub {
    config: HubConfig,
    next_conn: ConnId,
    conns: HashMap<ConnId, Conn>,
    /// (app, user id) → connection.
    users: HashMap<(String, String), ConnId>,
    /// (app, call id) → call.
    calls: HashMap<(String, String), Call>,
    /// (app, channel name) → channel.
    channels: HashMap<(String, String), Channel>,
    /// Connections admitted without a user, oldest first. May still hold
    /// some that registered or closed since: pruned by `poll` and before
    /// choosing whom to evict.
    unregistered: BTreeSet<ConnId>,
    /// Outputs of calls that return none (`connect` evicting), handed out
    /// by `take_outputs` and `poll`.
    outbox: Vec<Output>,
}

impl Hub {
    pub fn new(config: HubConfig) -> Self {
        Hub {
            config,
            next_conn: 1,
            conns: HashMap::new(),
            users: HashMap::new(),
            calls: HashMap::new(),
            channels: HashMap::new(),
            unregistered: BTreeSet::new(),
            outbox: Vec::new(),
        }
    }

    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// Connections currently open.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Admits a new connection from an unnamed source; see
    /// [`Hub::connect_from`].
    pub fn connect(&mut self, now: Now) -> Option<ConnId> {
        self.connect_from(now, IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    /// Admits a new connection from `source`, or `None` when every slot is
    /// held by a registered connection. To make room it may evict an
    /// unregistered connection (`max_unregistered`, `max_connections`);
    /// that one's error and close come from the next `take_outputs` (or
    /// `poll`).
    pub fn connect_from(&mut self, now: Now, source: IpAddr) -> Option<ConnId> {
        let unregistered = self.conns.len().saturating_sub(self.users.len());
        if unregistered >= self.config.max_unregistered.max(1)
            || self.conns.len() >= self.config.max_connections
        {
            let victim = self.eviction_victim()?;
            let mut out = vec![Output::Send(
                victim,
                ServerMsg::error(
                    "server_busy",
                    "too many connections are waiting to register; try again",
                ),
            )];
            self.drop_conn(victim, now, &mut out);
            self.outbox.append(&mut out);
        }
        let id = self.next_conn;
        self.next_conn += 1;
        let conn = Conn {
            user: None,
            source,
            connected_ms: now.mono_ms,
            last_seen_ms: now.mono_ms,
            tokens: self.config.rate_burst,
            refilled_ms: now.mono_ms,
            strikes: 0,
            call: None,
            channels: BTreeSet::new(),
        };
        self.conns.insert(id, conn);
        self.unregistered.insert(id);
        Some(id)
    }

    /// Outputs that no call returned: the eviction of an unregistered
    /// connection by `connect`. The shell takes them after each `connect`.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outbox)
    }

    /// The unregistered connection to close for a newcomer: the oldest of
    /// those from the source that has the most of them. Also forgets ids
    /// that registered or closed since they were noted.
    fn eviction_victim(&mut self) -> Option<ConnId> {
        let conns = &self.conns;
        self.unregistered
            .retain(|id| conns.get(id).is_some_and(|c| c.user.is_none()));
        let mut per_source: HashMap<IpAddr, usize> = HashMap::new();
        for id in &self.unregistered {
            *per_source.entry(conns[id].source).or_default() += 1;
        }
        let most = per_source.values().copied().max()?;
        self.unregistered
            .iter()
            .copied()
            .find(|id| per_source[&conns[id].source] == most)
    }

    /// A message that is not valid protocol JSON.
    pub fn handle_malformed(&mut self, conn: ConnId, detail: &str, now: Now) -> Vec<Output> {
        let mut out = Vec::new();
        if self.admit(conn, now, &mut out) {
            out.push(Output::Send(
                conn,
                ServerMsg::error("bad_message", format!("not a valid message: {detail}")),
            ));
        }
        out
    }

    /// Rate limiting and heartbeat bookkeeping for every incoming message.
    fn admit(&mut self, conn: ConnId, now: Now, out: &mut Vec<Output>) -> bool {
        let (burst, rate) = (self.config.rate_burst, self.config.rate_per_sec);
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        c.last_seen_ms = now.mono_ms;
        let elapsed = now.mono_ms.saturating_sub(c.refilled_ms) as f64 / 1000.0;
        c.tokens = (c.tokens + elapsed * rate).min(burst);
        c.refilled_ms = now.mono_ms;
        if c.tokens >= 1.0 {
            c.tokens -= 1.0;
            return true;
        }
        c.strikes += 1;
        out.push(Output::Send(
            conn,
            ServerMsg::error("rate_limited", "too many messages; slow down"),
        ));
        if c.strikes > 100 {
            self.drop_conn(conn, now, out);
        }
        false
    }

    /// Handles one message from `conn`.
    pub fn handle(&mut self, conn: ConnId, msg: ClientMsg, now: Now) -> Vec<Output> {
        let mut out = Vec::new();
        if !self.admit(conn, now, &mut out) {
            return out;
        }
        let registered = self.conns.get(&conn).is_some_and(|c| c.user.is_some());
        match msg {
            ClientMsg::Ping => out.push(Output::Send(conn, ServerMsg::Pong)),
            ClientMsg::Register {
                app_id,
                user_id,
                nickname,
                token,
            } => self.register(conn, app_id, user_id, nickname, token, now, &mut out),
            _ if !registered => out.push(Output::Send(
                conn,
                ServerMsg::error("not_registered", "register first"),
            )),
            ClientMsg::RenewToken { token } => self.renew(conn, &token, now, &mut out),
            ClientMsg::Call { call_id, to, media } => {
                self.call(conn, call_id, to, media, now, &mut out)
            }
            ClientMsg::Accept { call_id } => self.answer(conn, &call_id, true, &mut out),
            ClientMsg::Reject { call_id } => self.answer(conn, &call_id, false, &mut out),
            ClientMsg::Cancel { call_id } => self.hangup(conn, &call_id, false, &mut out),
            ClientMsg::Hangup { call_id, reason } => {
                let media_failed = reason == Some(EndReason::MediaFailed);
                self.hangup(conn, &call_id, media_failed, &mut out)
            }
            ClientMsg::Join { channel, uid, role } => self.join(conn, channel, uid, role, &mut out),
            ClientMsg::Leave { channel } => {
                self.leave(conn, &channel, OfflineReason::Quit, &mut out)
            }
            ClientMsg::Signal {
                call_id,
                channel,
                to,
                data,
            } => self.signal(conn, call_id, channel, to, data, &mut out),
        }
        out
    }

    /// The connection closed (or the shell gave up on it): everything it
    /// was part of learns that it dropped.
    pub fn disconnect(&mut self, conn: ConnId, now: Now) -> Vec<Output> {
        let mut out = Vec::new();
        self.drop_conn(conn, now, &mut out);
        out.retain(|o| !matches!(o, Output::Close(c) if *c == conn));
        out
    }

    /// Timers: ringing timeouts, registration deadlines, missed heartbeats,
    /// token warnings and expiry; also hands out what `take_outputs` would.
    pub fn poll(&mut self, now: Now) -> Vec<Output> {
        let mut out = self.take_outputs();
        let timed_out: Vec<(String, String)> = self
            .calls
            .iter()
            .filter(|(_, c)| matches!(c.state, CallState::Ringing { deadline_ms } if deadline_ms <= now.mono_ms))
            .map(|(k, _)| k.clone())
            .collect();
        for key in timed_out {
            if let Some(call) = self.calls.remove(&key) {
                for party in [call.caller, call.callee] {
                    self.clear_call(party);
                    out.push(Output::Send(
                        party,
                        ServerMsg::CallEnded {
                            call_id: key.1.clone(),
                            reason: EndReason::Timeout,
                        },
                    ));
                }
            }
        }
        let silence_limit = self.config.heartbeat_ms * self.config.missed_heartbeats;
        let register_timeout = self.config.register_timeout_ms;
        let warning = self.config.token_warning_s;
        let mut dead = Vec::new();
        for (&id, c) in self.conns.iter_mut() {
            if c.user.is_none() && now.mono_ms.saturating_sub(c.connected_ms) >= register_timeout {
                dead.push((
                    id,
                    Some(ServerMsg::error(
                        "register_timeout",
                        format!("register within {register_timeout} ms of connecting"),
                    )),
                ));
                continue;
            }
            if now.mono_ms.saturating_sub(c.last_seen_ms) > silence_limit {
                dead.push((id, None));
                continue;
            }
            if let Some(u) = c.user.as_mut() {
                if u.exp <= now.unix_s {
                    dead.push((
                        id,
                        Some(ServerMsg::error(
                            "token_expired",
                            "the token expired; register again with a new one",
                        )),
                    ));
                } else if !u.warned && u.exp <= now.unix_s + warning {
                    u.warned = true;
                    out.push(Output::Send(
                        id,
                        ServerMsg::TokenWillExpire { expires_at: u.exp },
                    ));
                }
            }
        }
        dead.sort_by_key(|d| d.0);
        for (id, msg) in dead {
            if let Some(m) = msg {
                out.push(Output::Send(id, m));
            }
            self.drop_conn(id, now, &mut out);
        }
        let conns = &self.conns;
        self.unregistered
            .retain(|id| conns.get(id).is_some_and(|c| c.user.is_none()));
        out
    }

    fn app_of(&self, conn: ConnId) -> Option<String> {
        self.conns
            .get(&conn)?
            .user
            .as_ref()
            .map(|u| u.app_id.clone())
    }

    fn user_of(&self, conn: ConnId) -> Option<&User> {
        self.conns.get(&conn)?.user.as_ref()
    }

    #[allow(clippy::too_many_arguments)]
    fn register(
        &mut self,
        conn: ConnId,
        app_id: String,
        user_id: String,
        nickname: String,
        token: String,
        now: Now,
        out: &mut Vec<Output>,
    ) {
        let refuse = |out: &mut Vec<Output>, code: &str, msg: &str| {
            out.push(Output::Send(conn, ServerMsg::error(code, msg)));
            out.push(Output::Close(conn));
        };
        if self.user_of(conn).is_some() {
            out.push(Output::Send(
                conn,
                ServerMsg::error("invalid_state", "already registered"),
            ));
            return;
        }
        // Identifiers are shown by clients (web pages among them): only the
        // documented alphabet gets in (PROTOCOL.md, "Identifiers").
        if !valid_user_id(&user_id) {
            return refuse(
                out,
                "bad_message",
                "user_id must be 1..=64 ASCII letters, digits, '-', '_', '.' or '@'",
            );
        }
        if !valid_nickname(&nickname) {
            return refuse(
                out,
                "bad_message",
                &format!(
                    "nickname must be at most {MAX_NICKNAME_CHARS} characters, \
                     none of them control characters"
                ),
            );
        }
        let Some(secret) = self.config.apps.get(&app_id) else {
            return refuse(out, "unknown_app", "no such app id");
        };
        let claims = match token::verify(&token, secret, now.unix_s) {
            Ok(c) => c,
            Err(e) => return refuse(out, e.code(), "token refused"),
        };
        if claims.app_id != app_id || claims.user_id != user_id {
            return refuse(
                out,
                TokenError::WrongScope.code(),
                "the token was issued for another app or user",
            );
        }
        // One connection per user: a newer one replaces the older.
        if let Some(old) = self.users.get(&(app_id.clone(), user_id.clone())).copied() {
            out.push(Output::Send(
                old,
                ServerMsg::error("replaced", "this user connected again elsewhere"),
            ));
            self.drop_conn(old, now, out);
        }
        let exp = claims.exp;
        if let Some(c) = self.conns.get_mut(&conn) {
            let warned = exp <= now.unix_s + self.config.token_warning_s;
            c.user = Some(User {
                app_id: app_id.clone(),
                user_id: user_id.clone(),
                nickname,
                scope: claims.channel,
                exp,
                warned,
            });
            self.users.insert((app_id, user_id.clone()), conn);
            out.push(Output::Send(
                conn,
                ServerMsg::Registered {
                    user_id,
                    expires_at: exp,
                    heartbeat_ms: self.config.heartbeat_ms,
                },
            ));
            if warned {
                out.push(Output::Send(
                    conn,
                    ServerMsg::TokenWillExpire { expires_at: exp },
                ));
            }
        }
    }

    fn renew(&mut self, conn: ConnId, token: &str, now: Now, out: &mut Vec<Output>) {
        let Some(u) = self.user_of(conn) else { return };
        let Some(secret) = self.config.apps.get(&u.app_id) else {
            return;
        };
        match token::verify(token, secret, now.unix_s) {
            Ok(c) if c.app_id == u.app_id && c.user_id == u.user_id => {
                let u = self
                    .conns
                    .get_mut(&conn)
                    .and_then(|c| c.user.as_mut())
                    .expect("registered");
                u.exp = c.exp;
                u.scope = c.channel;
                u.warned = false;
                out.push(Output::Send(
                    conn,
                    ServerMsg::TokenRenewed { expires_at: c.exp },
                ));
            }
            Ok(_) => out.push(Output::Send(
                conn,
                ServerMsg::error(
                    TokenError::WrongScope.code(),
                    "the token was issued for another app or user",
                ),
            )),
            Err(e) => out.push(Output::Send(
                conn,
                ServerMsg::error(e.code(), "token refused; the current one stays in force"),
            )),
        }
    }

    fn call_error(conn: ConnId, call_id: &str, code: &str, message: &str) -> Output {
        Output::Send(
            conn,
            ServerMsg::Error {
                code: code.into(),
                message: message.into(),
                call_id: Some(call_id.into()),
                channel: None,
            },
        )
    }

    fn call(
        &mut self,
        conn: ConnId,
        call_id: String,
        to: String,
        media: MediaKind,
        now: Now,
        out: &mut Vec<Output>,
    ) {
        let app = self.app_of(conn).expect("registered");
        let me = self.user_of(conn).expect("registered");
        let from = Peer {
            user_id: me.user_id.clone(),
            nickname: me.nickname.clone(),
        };
        if !valid_call_id(&call_id) {
            return out.push(Self::call_error(
                conn,
                &call_id,
                "bad_message",
                "call_id must be 1..=64 ASCII letters, digits, '-', '_', '.' or '@'",
            ));
        }
        if to == from.user_id {
            return out.push(Self::call_error(
                conn,
                &call_id,
                "bad_message",
                "cannot call yourself",
            ));
        }
        if self.conns[&conn].call.is_some() {
            return out.push(Self::call_error(
                conn,
                &call_id,
                "invalid_state",
                "already in a call; hang up first",
            ));
        }
        if self.calls.contains_key(&(app.clone(), call_id.clone())) {
            return out.push(Self::call_error(
                conn,
                &call_id,
                "invalid_state",
                "call_id already in use",
            ));
        }
        let Some(&callee) = self.users.get(&(app.clone(), to)) else {
            return out.push(Output::Send(
                conn,
                ServerMsg::CallEnded {
                    call_id,
                    reason: EndReason::Offline,
                },
            ));
        };
        if self.conns[&callee].call.is_some() {
            return out.push(Output::Send(
                conn,
                ServerMsg::CallEnded {
                    call_id,
                    reason: EndReason::Busy,
                },
            ));
        }
        let deadline_ms = now.mono_ms + self.config.ring_timeout_ms;
        self.calls.insert(
            (app, call_id.clone()),
            Call {
                caller: conn,
                callee,
                state: CallState::Ringing { deadline_ms },
            },
        );
        for party in [conn, callee] {
            if let Some(c) = self.conns.get_mut(&party) {
                c.call = Some(call_id.clone());
            }
        }
        out.push(Output::Send(
            callee,
            ServerMsg::IncomingCall {
                call_id: call_id.clone(),
                from,
                media,
            },
        ));
        out.push(Output::Send(conn, ServerMsg::Ringing { call_id }));
    }

    fn answer(&mut self, conn: ConnId, call_id: &str, accept: bool, out: &mut Vec<Output>) {
        let key = (self.app_of(conn).expect("registered"), call_id.to_string());
        let ok = matches!(self.calls.get(&key), Some(Call { callee, state: CallState::Ringing { .. }, .. }) if *callee == conn);
        if !ok {
            return out.push(Self::call_error(
                conn,
                call_id,
                "unknown_call",
                "no call ringing for you with this id",
            ));
        }
        if accept {
            let call = self.calls.get_mut(&key).expect("checked");
            call.state = CallState::Active;
            out.push(Output::Send(
                call.caller,
                ServerMsg::Accepted {
                    call_id: call_id.into(),
                },
            ));
        } else {
            let call = self.calls.remove(&key).expect("checked");
            self.clear_call(call.caller);
            self.clear_call(call.callee);
            out.push(Output::Send(
                call.caller,
                ServerMsg::CallEnded {
                    call_id: call_id.into(),
                    reason: EndReason::Rejected,
                },
            ));
        }
    }

    /// Cancel (caller while ringing), reject-by-hangup (callee while
    /// ringing) or hang up (either side once active).
    /// Ends `call_id` at `conn`'s request; `media_failed`: because its media
    /// connection failed, which both sides are told.
    fn hangup(&mut self, conn: ConnId, call_id: &str, media_failed: bool, out: &mut Vec<Output>) {
        let key = (self.app_of(conn).expect("registered"), call_id.to_string());
        let Some(call) = self.calls.get(&key) else {
            return out.push(Self::call_error(
                conn,
                call_id,
                "unknown_call",
                "no such call",
            ));
        };
        if call.caller != conn && call.callee != conn {
            return out.push(Self::call_error(
                conn,
                call_id,
                "unknown_call",
                "no such call",
            ));
        }
        let call = self.calls.remove(&key).expect("present");
        let ringing = matches!(call.state, CallState::Ringing { .. });
        let (other, reason) = if conn == call.caller {
            (
                call.callee,
                if ringing {
                    EndReason::Cancelled
                } else {
                    EndReason::Hangup
                },
            )
        } else {
            (
                call.caller,
                if ringing {
                    EndReason::Rejected
                } else {
                    EndReason::Hangup
                },
            )
        };
        let reason = if media_failed {
            EndReason::MediaFailed
        } else {
            reason
        };
        self.clear_call(call.caller);
        self.clear_call(call.callee);
        out.push(Output::Send(
            other,
            ServerMsg::CallEnded {
                call_id: call_id.into(),
                reason,
            },
        ));
    }

    fn clear_call(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.call = None;
        }
    }

    fn channel_error(
        conn: ConnId,
        channel: &str,
        code: &str,
        message: impl Into<String>,
    ) -> Output {
        Output::Send(
            conn,
            ServerMsg::Error {
                code: code.into(),
                message: message.into(),
                call_id: None,
                channel: Some(channel.into()),
            },
        )
    }

    fn join(&mut self, conn: ConnId, channel: String, uid: u32, role: Role, out: &mut Vec<Output>) {
        let u = self.user_of(conn).expect("registered");
        let (app, user_id, nickname) = (u.app_id.clone(), u.user_id.clone(), u.nickname.clone());
        if !valid_channel(&channel) {
            return out.push(Self::channel_error(
                conn,
                &channel,
                "bad_message",
                "channel must be 1..=64 ASCII letters, digits, '-', '_', '.' or '@'",
            ));
        }
        if u.scope != "*" && u.scope != channel {
            return out.push(Self::channel_error(
                conn,
                &channel,
                TokenError::WrongScope.code(),
                "the token does not allow this channel",
            ));
        }
        let c = &self.conns[&conn];
        if c.channels.contains(&channel) {
            return out.push(Self::channel_error(
                conn,
                &channel,
                "invalid_state",
                "already in this channel",
            ));
        }
        if c.channels.len() >= self.config.max_channels_per_conn {
            return out.push(Self::channel_error(
                conn,
                &channel,
                "too_many_channels",
                format!(
                    "at most {} channels per connection",
                    self.config.max_channels_per_conn
                ),
            ));
        }
        let (max_b, max_m) = (self.config.max_broadcasters, self.config.max_members);
        let ch = self
            .channels
            .entry((app.clone(), channel.clone()))
            .or_default();
        if ch.members.len() >= max_m {
            return out.push(Self::channel_error(
                conn,
                &channel,
                "channel_full",
                format!("at most {max_m} members"),
            ));
        }
        if role == Role::Broadcaster
            && ch
                .members
                .values()
                .filter(|m| m.1 == Role::Broadcaster)
                .count()
                >= max_b
        {
            return out.push(Self::channel_error(
                conn,
                &channel,
                "channel_full",
                format!("at most {max_b} broadcasters (media is a mesh); join as audience"),
            ));
        }
        let uid = if uid == 0 {
            loop {
                ch.next_uid = ch.next_uid.wrapping_add(1).max(1);
                if !ch.members.contains_key(&ch.next_uid) {
                    break ch.next_uid;
                }
            }
        } else if ch.members.contains_key(&uid) {
            return out.push(Self::channel_error(
                conn,
                &channel,
                "uid_in_use",
                format!("uid {uid} is taken in this channel"),
            ));
        } else {
            uid
        };
        let mut members = Vec::new();
        for (&other_uid, &(other, other_role)) in &ch.members {
            if let Some(ou) = self.conns.get(&other).and_then(|c| c.user.as_ref()) {
                members.push(Member {
                    uid: other_uid,
                    user_id: ou.user_id.clone(),
                    nickname: ou.nickname.clone(),
                    role: other_role,
                });
            }
            out.push(Output::Send(
                other,
                ServerMsg::UserJoined {
                    channel: channel.clone(),
                    member: Member {
                        uid,
                        user_id: user_id.clone(),
                        nickname: nickname.clone(),
                        role,
                    },
                },
            ));
        }
        ch.members.insert(uid, (conn, role));
        self.conns
            .get_mut(&conn)
            .expect("exists")
            .channels
            .insert(channel.clone());
        out.push(Output::Send(
            conn,
            ServerMsg::Joined {
                channel,
                uid,
                role,
                members,
            },
        ));
    }

    fn leave(&mut self, conn: ConnId, channel: &str, reason: OfflineReason, out: &mut Vec<Output>) {
        let Some(app) = self.app_of(conn) else { return };
        let key = (app, channel.to_string());
        let Some(ch) = self.channels.get_mut(&key) else {
            if reason == OfflineReason::Quit {
                out.push(Self::channel_error(
                    conn,
                    channel,
                    "not_in_channel",
                    "not in this channel",
                ));
            }
            return;
        };
        let Some(uid) = ch
            .members
            .iter()
            .find(|(_, m)| m.0 == conn)
            .map(|(&u, _)| u)
        else {
            if reason == OfflineReason::Quit {
                out.push(Self::channel_error(
                    conn,
                    channel,
                    "not_in_channel",
                    "not in this channel",
                ));
            }
            return;
        };
        ch.members.remove(&uid);
        for &(other, _) in ch.members.values() {
            out.push(Output::Send(
                other,
                ServerMsg::UserOffline {
                    channel: channel.into(),
                    uid,
                    reason,
                },
            ));
        }
        if ch.members.is_empty() {
            self.channels.remove(&key);
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.channels.remove(channel);
        }
        if reason == OfflineReason::Quit {
            out.push(Output::Send(
                conn,
                ServerMsg::Left {
                    channel: channel.into(),
                },
            ));
        }
    }

    fn signal(
        &mut self,
        conn: ConnId,
        call_id: Option<String>,
        channel: Option<String>,
        to: Option<u32>,
        data: serde_json::Value,
        out: &mut Vec<Output>,
    ) {
        let app = self.app_of(conn).expect("registered");
        let from = self.user_of(conn).expect("registered").user_id.clone();
        match (call_id, channel, to) {
            (Some(call_id), None, None) => {
                let other = match self.calls.get(&(app, call_id.clone())) {
                    Some(c) if c.caller == conn => c.callee,
                    Some(c) if c.callee == conn => c.caller,
                    _ => {
                        return out.push(Self::call_error(
                            conn,
                            &call_id,
                            "unknown_call",
                            "no such call",
                        ))
                    }
                };
                out.push(Output::Send(
                    other,
                    ServerMsg::Signal {
                        call_id: Some(call_id),
                        channel: None,
                        from,
                        from_uid: None,
                        data,
                    },
                ));
            }
            (None, Some(channel), Some(to)) => {
                let Some(ch) = self.channels.get(&(app, channel.clone())) else {
                    return out.push(Self::channel_error(
                        conn,
                        &channel,
                        "not_in_channel",
                        "not in this channel",
                    ));
                };
                let Some(from_uid) = ch
                    .members
                    .iter()
                    .find(|(_, m)| m.0 == conn)
                    .map(|(&u, _)| u)
                else {
                    return out.push(Self::channel_error(
                        conn,
                        &channel,
                        "not_in_channel",
                        "not in this channel",
                    ));
                };
                let Some(&(target, _)) = ch.members.get(&to) else {
                    return out.push(Self::channel_error(
                        conn,
                        &channel,
                        "unknown_user",
                        format!("no member with uid {to}"),
                    ));
                };
                out.push(Output::Send(
                    target,
                    ServerMsg::Signal {
                        call_id: None,
                        channel: Some(channel),
                        from,
                        from_uid: Some(from_uid),
                        data,
                    },
                ));
            }
            _ => out.push(Output::Send(
                conn,
                ServerMsg::error(
                    "bad_message",
                    "signal needs either call_id, or channel and to",
                ),
            )),
        }
    }

    /// Removes a connection; its call ends with `peer_dropped` for the other
    /// side, its channels see it `dropped`.
    fn drop_conn(&mut self, conn: ConnId, _now: Now, out: &mut Vec<Output>) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let call = c.call.clone();
        let channels: Vec<String> = c.channels.iter().cloned().collect();
        let app = self.app_of(conn);
        if let (Some(app), Some(call_id)) = (app.clone(), call) {
            if let Some(call) = self.calls.remove(&(app, call_id.clone())) {
                let other = if call.caller == conn {
                    call.callee
                } else {
                    call.caller
                };
                self.clear_call(other);
                out.push(Output::Send(
                    other,
                    ServerMsg::CallEnded {
                        call_id,
                        reason: EndReason::PeerDropped,
                    },
                ));
            }
        }
        for ch in channels {
            self.leave(conn, &ch, OfflineReason::Dropped, out);
        }
        if let Some(c) = self.conns.remove(&conn) {
            if let Some(u) = c.user {
                if self.users.get(&(u.app_id.clone(), u.user_id.clone())) == Some(&conn) {
                    self.users.remove(&(u.app_id, u.user_id));
                }
            }
        }
        out.push(Output::Close(conn));
    }
}
