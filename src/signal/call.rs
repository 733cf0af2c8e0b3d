//! The call controller: what the client does with server messages, user
//! requests and its own peer connection's signaling. Pure: no socket, no
//! thread; it returns [`Action`]s for the shell to carry out.

use media_protocol::{
    ClientMsg, EndReason, MediaKind, OfflineReason, Role as ChannelRole, ServerMsg,
};
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::signal::{CallEndReason, CallEvent, ChannelEvent};
use crate::transport::webrtc::{Role, Signal};
use crate::Event;

/// Something the shell must do.
// `Emit(Event)` is as large as an `Event`; actions are few and short-lived.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send to the server.
    Send(ClientMsg),
    /// Start the media session with the peer of `call_id`.
    StartPeer {
        call_id: String,
        role: Role,
        video: bool,
    },
    /// Connect the transport of the ringing call `call_id` ahead of the
    /// answer, without media (best effort: `StartPeer` follows either way).
    Preconnect {
        call_id: String,
        role: Role,
        video: bool,
    },
    /// Hand the peer connection the other side's offer / answer / candidate.
    PeerSignal(Signal),
    /// End the media session.
    StopPeer,
    /// Start a channel's media (local streams for a broadcaster).
    StartChannel { channel: String, broadcaster: bool },
    /// Start media with channel member `uid` (`broadcaster`: its role).
    AddMember {
        uid: u32,
        role: Role,
        broadcaster: bool,
    },
    /// Hand member `uid`'s connection its offer / answer / candidate.
    MemberSignal { uid: u32, signal: Signal },
    /// End media with member `uid`.
    RemoveMember { uid: u32 },
    /// End the channel's media.
    StopChannel,
    /// Tell the host.
    Emit(Event),
}

/// The channel this client is in (or joining), with the members media
/// flows with.
#[derive(Debug, Clone, PartialEq)]
struct Channel {
    name: String,
    /// Our uid: asked for until joined, then assigned.
    uid: u32,
    broadcaster: bool,
    joined: bool,
    /// Joining again after a lost server connection.
    rejoin: bool,
    /// Members we have a media connection with.
    linked: Vec<u32>,
    /// Every member we know of (to report changes after a rejoin).
    members: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Idle,
    /// We called; waiting for ringing / an answer.
    Outgoing {
        call_id: String,
        video: bool,
    },
    /// Someone calls us; waiting for the user.
    Incoming {
        call_id: String,
        video: bool,
    },
    /// Accepted: media is being set up or flows.
    Active {
        call_id: String,
    },
}

/// See the module docs.
#[derive(Debug)]
pub struct Controller {
    user_id: String,
    phase: Phase,
    registered: bool,
    next_call: u64,
    salt: u64,
    channel: Option<Channel>,
}

/// The JSON a browser's RTCPeerConnection would send for this signal.
pub fn signal_to_json(s: &Signal) -> Value {
    match s {
        Signal::Offer(sdp) => json!({"type": "offer", "sdp": sdp}),
        Signal::Answer(sdp) => json!({"type": "answer", "sdp": sdp}),
        Signal::Candidate(c) => json!({"candidate": c, "sdpMid": "0", "sdpMLineIndex": 0}),
    }
}

/// Reads a browser-style signal; `None` for anything else (including the
/// empty end-of-candidates marker).
pub fn signal_from_json(v: &Value) -> Option<Signal> {
    match (
        v.get("type").and_then(Value::as_str),
        v.get("sdp").and_then(Value::as_str),
    ) {
        (Some("offer"), Some(sdp)) => return Some(Signal::Offer(sdp.to_string())),
        (Some("answer"), Some(sdp)) => return Some(Signal::Answer(sdp.to_string())),
        _ => {}
    }
    match v.get("candidate").and_then(Value::as_str) {
        Some(c) if !c.trim().is_empty() => Some(Signal::Candidate(c.to_string())),
        _ => None,
    }
}

impl Controller {
    pub fn new(user_id: &str, salt: u64) -> Self {
        Controller {
            user_id: user_id.to_string(),
            phase: Phase::Idle,
            registered: false,
            next_call: 0,
            salt,
            channel: None,
        }
    }

    /// The channel joined (or being joined), if any.
    pub fn current_channel(&self) -> Option<&str> {
        self.channel.as_ref().map(|c| c.name.as_str())
    }

    pub fn registered(&self) -> bool {
        self.registered
    }

    /// The call in progress, if any.
    pub fn current_call(&self) -> Option<&str> {
        match &self.phase {
            Phase::Idle => None,
            Phase::Outgoing { call_id, .. }
            | Phase::Incoming { call_id, .. }
            | Phase::Active { call_id } => Some(call_id),
        }
    }

    fn ended(&mut self, call_id: String, reason: CallEndReason, out: &mut Vec<Action>) {
        if self.phase != Phase::Idle {
            // Connected, or connecting ahead of the answer.
            out.push(Action::StopPeer);
        }
        self.phase = Phase::Idle;
        out.push(Action::Emit(Event::Call(CallEvent::Ended {
            call_id,
            reason,
        })));
    }

    /// Starts a call to `to`.
    pub fn call(&mut self, to: &str, video: bool) -> Result<(String, Vec<Action>)> {
        if !self.registered {
            return Err(Error::invalid_state("not connected to the server yet"));
        }
        if !media_protocol::valid_user_id(to) {
            return Err(Error::invalid_argument(format!(
                "user id {to:?}: 1 to 64 of A-Z a-z 0-9 - _ . @"
            )));
        }
        if to == self.user_id {
            return Err(Error::invalid_argument("cannot call yourself"));
        }
        if let Some(id) = self.current_call() {
            return Err(Error::invalid_state(format!(
                "already in call {id}; hang up first"
            )));
        }
        self.refuse_in_channel()?;
        self.next_call += 1;
        let call_id = format!(
            "{}-{:x}-{}",
            self.user_id.chars().take(24).collect::<String>(),
            self.salt,
            self.next_call
        );
        self.phase = Phase::Outgoing {
            call_id: call_id.clone(),
            video,
        };
        let media = if video {
            MediaKind::Video
        } else {
            MediaKind::Audio
        };
        Ok((
            call_id.clone(),
            vec![Action::Send(ClientMsg::Call {
                call_id,
                to: to.to_string(),
                media,
            })],
        ))
    }

    /// Accepts the incoming call.
    pub fn accept(&mut self, call_id: &str) -> Result<Vec<Action>> {
        match &self.phase {
            Phase::Incoming { call_id: id, video } if id == call_id => {
                let video = *video;
                self.refuse_in_channel()?;
                self.phase = Phase::Active {
                    call_id: call_id.to_string(),
                };
                Ok(vec![
                    Action::Send(ClientMsg::Accept {
                        call_id: call_id.to_string(),
                    }),
                    Action::StartPeer {
                        call_id: call_id.to_string(),
                        role: Role::Answerer,
                        video,
                    },
                ])
            }
            _ => Err(Error::invalid_state(format!(
                "no incoming call {call_id} is ringing"
            ))),
        }
    }

    /// Rejects the incoming call.
    pub fn reject(&mut self, call_id: &str) -> Result<Vec<Action>> {
        match &self.phase {
            Phase::Incoming { call_id: id, .. } if id == call_id => {
                let mut out = vec![Action::Send(ClientMsg::Reject {
                    call_id: call_id.to_string(),
                })];
                self.ended(call_id.to_string(), CallEndReason::Rejected, &mut out);
                Ok(out)
            }
            _ => Err(Error::invalid_state(format!(
                "no incoming call {call_id} is ringing"
            ))),
        }
    }

    /// Cancels, rejects or hangs up the current call.
    pub fn hangup(&mut self) -> Result<Vec<Action>> {
        let mut out = Vec::new();
        match self.phase.clone() {
            Phase::Idle => return Err(Error::invalid_state("no call in progress")),
            Phase::Outgoing { call_id, .. } => {
                out.push(Action::Send(ClientMsg::Cancel {
                    call_id: call_id.clone(),
                }));
                self.ended(call_id, CallEndReason::Cancelled, &mut out);
            }
            Phase::Incoming { call_id, .. } => {
                out.push(Action::Send(ClientMsg::Reject {
                    call_id: call_id.clone(),
                }));
                self.ended(call_id, CallEndReason::Rejected, &mut out);
            }
            Phase::Active { call_id } => {
                out.push(Action::Send(ClientMsg::Hangup {
                    call_id: call_id.clone(),
                    reason: None,
                }));
                self.ended(call_id, CallEndReason::Hangup, &mut out);
            }
        }
        Ok(out)
    }

    /// Our peer connection produced an offer, answer or candidate (also
    /// while the call rings: it connects ahead of the answer).
    pub fn on_peer_signal(&mut self, call_id: &str, signal: &Signal) -> Vec<Action> {
        match self.current_call() {
            Some(id) if id == call_id => {
                vec![Action::Send(ClientMsg::Signal {
                    call_id: Some(call_id.to_string()),
                    channel: None,
                    to: None,
                    data: signal_to_json(signal),
                })]
            }
            _ => Vec::new(),
        }
    }

    fn refuse_in_channel(&self) -> Result<()> {
        match &self.channel {
            Some(c) => Err(Error::invalid_state(format!(
                "in channel {}; leave it first",
                c.name
            ))),
            None => Ok(()),
        }
    }

    /// Our connection with channel member `uid` produced a signal.
    pub fn on_member_signal(&mut self, uid: u32, signal: &Signal) -> Vec<Action> {
        match &self.channel {
            Some(c) if c.joined && c.linked.contains(&uid) => {
                vec![Action::Send(ClientMsg::Signal {
                    call_id: None,
                    channel: Some(c.name.clone()),
                    to: Some(uid),
                    data: signal_to_json(signal),
                })]
            }
            _ => Vec::new(),
        }
    }

    /// Our microphone / camera mute state changed (or a call just started):
    /// tell the peer of an active call, or the members of our channel.
    pub fn on_local_mute(&mut self, audio_muted: bool, video_muted: bool) -> Vec<Action> {
        let data = json!({"type": "mute", "audio": audio_muted, "video": video_muted});
        match (&self.phase, &self.channel) {
            (Phase::Active { call_id }, _) => vec![Action::Send(ClientMsg::Signal {
                call_id: Some(call_id.clone()),
                channel: None,
                to: None,
                data,
            })],
            (_, Some(c)) if c.joined && c.broadcaster => c
                .linked
                .iter()
                .map(|&uid| {
                    Action::Send(ClientMsg::Signal {
                        call_id: None,
                        channel: Some(c.name.clone()),
                        to: Some(uid),
                        data: data.clone(),
                    })
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Tells channel member `uid` our mute state (sent to each member as its
    /// media connection starts, so that later arrivals know it too).
    pub fn mute_to(&self, uid: u32, audio_muted: bool, video_muted: bool) -> Vec<Action> {
        match &self.channel {
            Some(c) if c.joined && c.broadcaster && c.linked.contains(&uid) => {
                vec![Action::Send(ClientMsg::Signal {
                    call_id: None,
                    channel: Some(c.name.clone()),
                    to: Some(uid),
                    data: json!({"type": "mute", "audio": audio_muted, "video": video_muted}),
                })]
            }
            _ => Vec::new(),
        }
    }

    /// The media connection with remote `uid` failed (0: the call's peer;
    /// it never connected, or a connection that was up stayed unreachable).
    /// A call ends on both sides with `media_failed`, also while it rings
    /// (its connection is made ahead of the answer); a channel link is
    /// dropped on both sides (the member is told with a `bye` signal).
    /// Either way the host gets an error event.
    pub fn on_media_failed(&mut self, uid: u32) -> Vec<Action> {
        let mut out = Vec::new();
        if uid == 0 {
            let Some(call_id) = self.current_call().map(str::to_string) else {
                return out;
            };
            out.push(Action::Send(ClientMsg::Hangup {
                call_id: call_id.clone(),
                reason: Some(EndReason::MediaFailed),
            }));
            out.push(Action::Emit(Event::Error {
                kind: crate::ErrorKind::Network,
                message: format!("call {call_id}: the media connection failed"),
            }));
            self.ended(call_id, CallEndReason::MediaFailed, &mut out);
            return out;
        }
        let Some(c) = self.channel.as_mut().filter(|c| c.linked.contains(&uid)) else {
            return out;
        };
        c.linked.retain(|&u| u != uid);
        if c.joined {
            out.push(Action::Send(ClientMsg::Signal {
                call_id: None,
                channel: Some(c.name.clone()),
                to: Some(uid),
                data: json!({"type": "bye", "reason": "media_failed"}),
            }));
        }
        out.push(Action::RemoveMember { uid });
        out.push(Action::Emit(Event::Error {
            kind: crate::ErrorKind::Network,
            message: format!("media with uid {uid} in {} failed", c.name),
        }));
        out
    }

    /// Media with member `uid` could not be started: forget the link.
    pub fn on_member_failed(&mut self, uid: u32) {
        if let Some(c) = self.channel.as_mut() {
            c.linked.retain(|&u| u != uid);
        }
    }

    /// The channel's media could not be started: leave the channel rather
    /// than sit in it without media.
    pub fn on_channel_failed(&mut self, channel: &str) -> Vec<Action> {
        if self.current_channel() != Some(channel) {
            return Vec::new();
        }
        self.channel = None;
        let mut out = Vec::new();
        if self.registered {
            out.push(Action::Send(ClientMsg::Leave {
                channel: channel.to_string(),
            }));
        }
        out.push(Action::StopChannel);
        out.push(Action::Emit(Event::Channel(ChannelEvent::Left {
            channel: channel.to_string(),
        })));
        out
    }

    /// The server connection broke: whatever call there was is over. A
    /// joined channel is kept to be joined again (same uid) once registered
    /// anew; its members' connections end meanwhile. A join still waiting
    /// for its answer is given up.
    pub fn on_connection_lost(&mut self) -> Vec<Action> {
        self.registered = false;
        let mut out = Vec::new();
        if let Some(id) = self.current_call().map(str::to_string) {
            self.ended(id, CallEndReason::ConnectionLost, &mut out);
        }
        let Some(c) = self.channel.as_mut() else {
            return out;
        };
        for uid in c.linked.drain(..) {
            out.push(Action::RemoveMember { uid });
        }
        if c.joined || c.rejoin {
            c.joined = false;
            c.rejoin = true;
        } else if let Some(c) = self.channel.take() {
            out.push(Action::StopChannel);
            out.push(Action::Emit(Event::Channel(ChannelEvent::Left {
                channel: c.name,
            })));
        }
        out
    }

    /// The connection is gone for good (given up or closed): the channel
    /// is left.
    pub fn on_closed(&mut self) -> Vec<Action> {
        let mut out = self.on_connection_lost();
        if let Some(c) = self.channel.take() {
            out.push(Action::StopChannel);
            out.push(Action::Emit(Event::Channel(ChannelEvent::Left {
                channel: c.name,
            })));
        }
        out
    }

    /// Leaves our channel: media ends at once, `Left` follows from the
    /// server (at once when the server is unreachable: there is nothing to
    /// rejoin then).
    pub fn leave(&mut self, channel: &str) -> Result<Vec<Action>> {
        let ours = self.current_channel() == Some(channel);
        if !self.registered && !ours {
            return Err(Error::invalid_state("not connected to the server"));
        }
        let mut out = Vec::new();
        if self.registered {
            out.push(Action::Send(ClientMsg::Leave {
                channel: channel.to_string(),
            }));
        }
        if ours {
            self.channel = None;
            out.push(Action::StopChannel);
            if !self.registered {
                out.push(Action::Emit(Event::Channel(ChannelEvent::Left {
                    channel: channel.to_string(),
                })));
            }
        }
        Ok(out)
    }

    fn channel_msg(&mut self, msg: ServerMsg, out: &mut Vec<Action>) {
        let ours = |c: &Option<Channel>, name: &str| c.as_ref().is_some_and(|c| c.name == name);
        let emit =
            |out: &mut Vec<Action>, e: ChannelEvent| out.push(Action::Emit(Event::Channel(e)));
        match msg {
            ServerMsg::Joined {
                channel,
                uid,
                role,
                members,
            } => {
                let Some(c) = self.channel.as_mut().filter(|c| c.name == channel) else {
                    // A channel left meanwhile; the server says `left` next.
                    return;
                };
                let broadcaster = role == ChannelRole::Broadcaster;
                out.push(Action::StartChannel {
                    channel: channel.clone(),
                    broadcaster,
                });
                let now: Vec<u32> = members.iter().map(|m| m.uid).collect();
                if c.rejoin {
                    // Back after an outage: report only what changed.
                    for &gone in c.members.iter().filter(|u| !now.contains(u)) {
                        emit(
                            out,
                            ChannelEvent::UserOffline {
                                channel: channel.clone(),
                                uid: gone,
                                dropped: true,
                            },
                        );
                    }
                } else {
                    emit(
                        out,
                        ChannelEvent::Joined {
                            channel: channel.clone(),
                            uid,
                            members: members.iter().map(|m| (m.uid, m.user_id.clone())).collect(),
                        },
                    );
                }
                let mut linked = Vec::new();
                // Those already there are reported like later arrivals; the
                // newcomer offers to each one media flows with.
                for m in members {
                    if !(c.rejoin && c.members.contains(&m.uid)) {
                        emit(
                            out,
                            ChannelEvent::UserJoined {
                                channel: channel.clone(),
                                uid: m.uid,
                                user_id: m.user_id,
                            },
                        );
                    }
                    let member_broadcasts = m.role == ChannelRole::Broadcaster;
                    if broadcaster || member_broadcasts {
                        linked.push(m.uid);
                        out.push(Action::AddMember {
                            uid: m.uid,
                            role: Role::Offerer,
                            broadcaster: member_broadcasts,
                        });
                    }
                }
                c.uid = uid;
                c.broadcaster = broadcaster;
                c.joined = true;
                c.rejoin = false;
                c.linked = linked;
                c.members = now;
            }
            ServerMsg::UserJoined { channel, member } => {
                emit(
                    out,
                    ChannelEvent::UserJoined {
                        channel: channel.clone(),
                        uid: member.uid,
                        user_id: member.user_id,
                    },
                );
                if let Some(c) = self
                    .channel
                    .as_mut()
                    .filter(|c| c.name == channel && c.joined)
                {
                    if !c.members.contains(&member.uid) {
                        c.members.push(member.uid);
                    }
                    let member_broadcasts = member.role == ChannelRole::Broadcaster;
                    if (c.broadcaster || member_broadcasts) && !c.linked.contains(&member.uid) {
                        c.linked.push(member.uid);
                        out.push(Action::AddMember {
                            uid: member.uid,
                            role: Role::Answerer,
                            broadcaster: member_broadcasts,
                        });
                    }
                }
            }
            ServerMsg::UserOffline {
                channel,
                uid,
                reason,
            } => {
                if let Some(c) = self.channel.as_mut().filter(|c| c.name == channel) {
                    c.members.retain(|&u| u != uid);
                    if let Some(i) = c.linked.iter().position(|&u| u == uid) {
                        c.linked.remove(i);
                        out.push(Action::RemoveMember { uid });
                    }
                }
                emit(
                    out,
                    ChannelEvent::UserOffline {
                        channel,
                        uid,
                        dropped: reason == OfflineReason::Dropped,
                    },
                )
            }
            ServerMsg::Left { channel } => {
                if ours(&self.channel, &channel) {
                    self.channel = None;
                    out.push(Action::StopChannel);
                } else if self.channel.is_none() {
                    // Media that a `joined` racing with the leave started.
                    out.push(Action::StopChannel);
                }
                emit(out, ChannelEvent::Left { channel })
            }
            ServerMsg::Signal {
                channel: Some(channel),
                from_uid: Some(uid),
                data,
                ..
            } => {
                let Some(c) = self.channel.as_ref().filter(|c| c.name == channel) else {
                    return;
                };
                if !c.linked.contains(&uid) {
                    return;
                }
                if data.get("type").and_then(Value::as_str) == Some("bye") {
                    // The member's media with us failed on its side.
                    let name = c.name.clone();
                    if let Some(c) = self.channel.as_mut() {
                        c.linked.retain(|&u| u != uid);
                    }
                    out.push(Action::RemoveMember { uid });
                    out.push(Action::Emit(Event::Error {
                        kind: crate::ErrorKind::Network,
                        message: format!("media with uid {uid} in {name} failed"),
                    }));
                } else if data.get("type").and_then(Value::as_str) == Some("mute") {
                    let flag = |k: &str| data.get(k).and_then(Value::as_bool).unwrap_or(false);
                    emit(
                        out,
                        ChannelEvent::RemoteMute {
                            channel,
                            uid,
                            audio_muted: flag("audio"),
                            video_muted: flag("video"),
                        },
                    );
                } else if let Some(signal) = signal_from_json(&data) {
                    out.push(Action::MemberSignal { uid, signal });
                }
            }
            _ => {}
        }
    }

    /// A message from the server.
    pub fn on_server(&mut self, msg: ServerMsg) -> Vec<Action> {
        let mut out = Vec::new();
        let current = self.current_call().map(str::to_string);
        let is_current = |id: &str| current.as_deref() == Some(id);
        match msg {
            ServerMsg::Registered { .. } => {
                self.registered = true;
                // Back after a lost connection: join our channel again.
                if let Some(c) = &self.channel {
                    out.push(Action::Send(ClientMsg::Join {
                        channel: c.name.clone(),
                        uid: c.uid,
                        role: if c.broadcaster {
                            ChannelRole::Broadcaster
                        } else {
                            ChannelRole::Audience
                        },
                    }));
                }
            }
            ServerMsg::Pong | ServerMsg::TokenRenewed { .. } => {}
            ServerMsg::TokenWillExpire { expires_at } => {
                out.push(Action::Emit(Event::TokenWillExpire { expires_at }))
            }
            ServerMsg::IncomingCall {
                call_id,
                from,
                media,
            } => {
                if self.phase != Phase::Idle {
                    // The server only rings idle users; stay consistent anyway.
                    out.push(Action::Send(ClientMsg::Reject { call_id }));
                } else {
                    let video = media == MediaKind::Video;
                    self.phase = Phase::Incoming {
                        call_id: call_id.clone(),
                        video,
                    };
                    out.push(Action::Emit(Event::Call(CallEvent::Incoming {
                        call_id: call_id.clone(),
                        from_user: from.user_id,
                        from_nickname: from.nickname,
                        video,
                    })));
                    out.push(Action::Preconnect {
                        call_id,
                        role: Role::Answerer,
                        video,
                    });
                }
            }
            ServerMsg::Ringing { call_id } if is_current(&call_id) => {
                if let Phase::Outgoing { video, .. } = self.phase {
                    out.push(Action::Preconnect {
                        call_id: call_id.clone(),
                        role: Role::Offerer,
                        video,
                    });
                }
                out.push(Action::Emit(Event::Call(CallEvent::Ringing { call_id })))
            }
            ServerMsg::Accepted { call_id } if is_current(&call_id) => {
                if let Phase::Outgoing { video, .. } = self.phase {
                    self.phase = Phase::Active {
                        call_id: call_id.clone(),
                    };
                    out.push(Action::StartPeer {
                        call_id: call_id.clone(),
                        role: Role::Offerer,
                        video,
                    });
                    out.push(Action::Emit(Event::Call(CallEvent::Accepted { call_id })));
                }
            }
            ServerMsg::CallEnded { call_id, reason } if is_current(&call_id) => {
                let reason = match reason {
                    EndReason::Offline => CallEndReason::Offline,
                    EndReason::Busy => CallEndReason::Busy,
                    EndReason::Rejected => CallEndReason::Rejected,
                    EndReason::Timeout => CallEndReason::Timeout,
                    EndReason::Cancelled => CallEndReason::Cancelled,
                    EndReason::Hangup => CallEndReason::Hangup,
                    EndReason::PeerDropped => CallEndReason::PeerDropped,
                    EndReason::MediaFailed => CallEndReason::MediaFailed,
                };
                self.ended(call_id, reason, &mut out);
            }
            ServerMsg::Signal {
                call_id: Some(call_id),
                data,
                ..
            } if is_current(&call_id) => {
                if data.get("type").and_then(Value::as_str) == Some("mute") {
                    let flag = |k: &str| data.get(k).and_then(Value::as_bool).unwrap_or(false);
                    out.push(Action::Emit(Event::Call(CallEvent::RemoteMute {
                        call_id,
                        audio_muted: flag("audio"),
                        video_muted: flag("video"),
                    })));
                } else if let Some(s) = signal_from_json(&data) {
                    out.push(Action::PeerSignal(s));
                }
            }
            m @ (ServerMsg::Joined { .. }
            | ServerMsg::UserJoined { .. }
            | ServerMsg::UserOffline { .. }
            | ServerMsg::Left { .. }
            | ServerMsg::Signal {
                channel: Some(_), ..
            }) => self.channel_msg(m, &mut out),
            ServerMsg::Error {
                code,
                message,
                call_id,
                channel,
            } => {
                if let Some(id) = call_id.filter(|id| is_current(id)) {
                    self.ended(id, CallEndReason::Error(code.clone()), &mut out);
                }
                // A refused join: we are not in that channel after all (a
                // refused rejoin ends a channel the host saw us join).
                if let (Some(c), Some(name)) = (&self.channel, &channel) {
                    if !c.joined && &c.name == name {
                        let rejoin = c.rejoin;
                        self.channel = None;
                        out.push(Action::StopChannel);
                        if rejoin {
                            out.push(Action::Emit(Event::Channel(ChannelEvent::Left {
                                channel: name.clone(),
                            })));
                        }
                    }
                }
                out.push(Action::Emit(Event::ServerError {
                    code,
                    message,
                    channel,
                }));
            }
            // Messages for calls that are already over.
            _ => {}
        }
        out
    }

    /// Joins a channel; media with its members starts once the server
    /// confirms. One channel at a time, and not during a call.
    pub fn join(&mut self, channel: &str, uid: u32, audience: bool) -> Result<Vec<Action>> {
        if !self.registered {
            return Err(Error::invalid_state("not connected to the server yet"));
        }
        if !media_protocol::valid_channel(channel) {
            return Err(Error::invalid_argument(format!(
                "channel name {channel:?}: 1 to 64 of A-Z a-z 0-9 - _ . @"
            )));
        }
        self.refuse_in_channel()?;
        if let Some(id) = self.current_call() {
            return Err(Error::invalid_state(format!("in call {id}; hang up first")));
        }
        self.channel = Some(Channel {
            name: channel.to_string(),
            uid,
            broadcaster: !audience,
            joined: false,
            rejoin: false,
            linked: Vec::new(),
            members: Vec::new(),
        });
        let role = if audience {
            ChannelRole::Audience
        } else {
            ChannelRole::Broadcaster
        };
        Ok(vec![Action::Send(ClientMsg::Join {
            channel: channel.to_string(),
            uid,
            role,
        })])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use media_protocol::Peer;

    fn registered(user: &str) -> Controller {
        let mut c = Controller::new(user, 7);
        c.on_server(ServerMsg::Registered {
            user_id: user.into(),
            expires_at: 0,
            heartbeat_ms: 2000,
        });
        c
    }

    #[test]
    fn caller_side_flow() {
        let mut c = registered("alice");
        let (id, out) = c.call("bob", true).unwrap();
        assert!(
            matches!(&out[0], Action::Send(ClientMsg::Call { to, media: MediaKind::Video, .. }) if to == "bob")
        );
        assert!(c.call("carol", false).is_err(), "one call at a time");
        // While it rings the transport connects ahead of the answer.
        assert_eq!(
            c.on_server(ServerMsg::Ringing {
                call_id: id.clone()
            }),
            vec![
                Action::Preconnect {
                    call_id: id.clone(),
                    role: Role::Offerer,
                    video: true
                },
                Action::Emit(Event::Call(CallEvent::Ringing {
                    call_id: id.clone()
                }))
            ]
        );
        let out = c.on_peer_signal(&id, &Signal::Offer("v=0 early".into()));
        assert!(matches!(&out[0], Action::Send(ClientMsg::Signal { .. })));
        let out = c.on_server(ServerMsg::Accepted {
            call_id: id.clone(),
        });
        assert_eq!(
            out[0],
            Action::StartPeer {
                call_id: id.clone(),
                role: Role::Offerer,
                video: true
            }
        );
        let out = c.on_peer_signal(&id, &Signal::Offer("v=0".into()));
        assert!(
            matches!(&out[0], Action::Send(ClientMsg::Signal { data, .. }) if data["type"] == "offer")
        );
        let answer = json!({"type": "answer", "sdp": "v=0 answer"});
        let out = c.on_server(ServerMsg::Signal {
            call_id: Some(id.clone()),
            channel: None,
            from: "bob".into(),
            from_uid: None,
            data: answer,
        });
        assert_eq!(
            out,
            vec![Action::PeerSignal(Signal::Answer("v=0 answer".into()))]
        );
        let out = c.on_server(ServerMsg::CallEnded {
            call_id: id.clone(),
            reason: EndReason::Hangup,
        });
        assert_eq!(out[0], Action::StopPeer);
        assert_eq!(
            out[1],
            Action::Emit(Event::Call(CallEvent::Ended {
                call_id: id,
                reason: CallEndReason::Hangup
            }))
        );
        assert!(c.current_call().is_none());
    }

    #[test]
    fn callee_side_flow_and_local_endings() {
        let mut c = registered("bob");
        let incoming = ServerMsg::IncomingCall {
            call_id: "x1".into(),
            from: Peer {
                user_id: "alice".into(),
                nickname: "A".into(),
            },
            media: MediaKind::Audio,
        };
        let out = c.on_server(incoming);
        assert!(matches!(
            &out[0],
            Action::Emit(Event::Call(CallEvent::Incoming { video: false, .. }))
        ));
        assert_eq!(
            out[1],
            Action::Preconnect {
                call_id: "x1".into(),
                role: Role::Answerer,
                video: false
            }
        );
        assert!(c.accept("other").is_err());
        let out = c.accept("x1").unwrap();
        assert_eq!(
            out[1],
            Action::StartPeer {
                call_id: "x1".into(),
                role: Role::Answerer,
                video: false
            }
        );
        let out = c.hangup().unwrap();
        assert_eq!(out[1], Action::StopPeer);
        // Reject path.
        let from = Peer {
            user_id: "carol".into(),
            nickname: "C".into(),
        };
        c.on_server(ServerMsg::IncomingCall {
            call_id: "x2".into(),
            from,
            media: MediaKind::Video,
        });
        let out = c.reject("x2").unwrap();
        assert!(matches!(&out[0], Action::Send(ClientMsg::Reject { .. })));
        assert_eq!(out[1], Action::StopPeer, "the pre-connected transport goes");
        assert!(c.hangup().is_err(), "nothing left to hang up");
    }

    #[test]
    fn losing_the_server_ends_the_call_and_stale_messages_are_ignored() {
        let mut c = registered("alice");
        let (id, _) = c.call("bob", true).unwrap();
        c.on_server(ServerMsg::Accepted {
            call_id: id.clone(),
        });
        assert!(c
            .on_server(ServerMsg::Ringing {
                call_id: "stale".into()
            })
            .is_empty());
        let out = c.on_connection_lost();
        assert_eq!(out[0], Action::StopPeer);
        assert!(matches!(
            &out[1],
            Action::Emit(Event::Call(CallEvent::Ended {
                reason: CallEndReason::ConnectionLost,
                ..
            }))
        ));
        assert!(c.call("bob", true).is_err(), "not registered any more");
    }

    #[test]
    fn mute_state_travels_to_the_peer_as_an_event() {
        let mut c = registered("alice");
        assert!(
            c.on_local_mute(true, false).is_empty(),
            "no call, nobody to tell"
        );
        let (id, _) = c.call("bob", true).unwrap();
        c.on_server(ServerMsg::Accepted {
            call_id: id.clone(),
        });
        let out = c.on_local_mute(true, false);
        let Action::Send(ClientMsg::Signal { data, .. }) = &out[0] else {
            panic!("{out:?}")
        };
        let echoed = ServerMsg::Signal {
            call_id: Some(id.clone()),
            channel: None,
            from: "bob".into(),
            from_uid: None,
            data: data.clone(),
        };
        assert_eq!(
            c.on_server(echoed),
            vec![Action::Emit(Event::Call(CallEvent::RemoteMute {
                call_id: id,
                audio_muted: true,
                video_muted: false
            }))]
        );
    }

    fn member(uid: u32, user: &str, broadcaster: bool) -> media_protocol::Member {
        media_protocol::Member {
            uid,
            user_id: user.into(),
            nickname: String::new(),
            role: if broadcaster {
                ChannelRole::Broadcaster
            } else {
                ChannelRole::Audience
            },
        }
    }

    #[test]
    fn failed_media_ends_the_call_and_drops_channel_links_on_both_sides() {
        // A call: hang up saying why, tell the host, end it locally.
        let mut c = registered("bob");
        c.on_server(ServerMsg::IncomingCall {
            call_id: "x1".into(),
            from: Peer {
                user_id: "alice".into(),
                nickname: "A".into(),
            },
            media: MediaKind::Video,
        });
        c.accept("x1").unwrap();
        assert!(c.on_media_failed(3).is_empty(), "no channel member 3");
        let out = c.on_media_failed(0);
        assert_eq!(
            out[0],
            Action::Send(ClientMsg::Hangup {
                call_id: "x1".into(),
                reason: Some(EndReason::MediaFailed)
            })
        );
        assert!(matches!(
            &out[1],
            Action::Emit(Event::Error {
                kind: crate::ErrorKind::Network,
                ..
            })
        ));
        assert_eq!(out[2], Action::StopPeer);
        assert_eq!(
            out[3],
            Action::Emit(Event::Call(CallEvent::Ended {
                call_id: "x1".into(),
                reason: CallEndReason::MediaFailed
            }))
        );
        assert!(c.current_call().is_none());
        assert!(c.on_media_failed(0).is_empty(), "once");
        // The peer's side of it: the server's call_ended.
        let (mut alice, id) = {
            let mut a = registered("alice");
            let (id, _) = a.call("bob", true).unwrap();
            a.on_server(ServerMsg::Accepted {
                call_id: id.clone(),
            });
            (a, id)
        };
        let out = alice.on_server(ServerMsg::CallEnded {
            call_id: id.clone(),
            reason: EndReason::MediaFailed,
        });
        assert!(out.contains(&Action::Emit(Event::Call(CallEvent::Ended {
            call_id: id,
            reason: CallEndReason::MediaFailed
        }))));

        // A channel link: drop it, tell the member, stay in the channel.
        let mut c = registered("carol");
        c.join("room", 0, false).unwrap();
        c.on_server(ServerMsg::Joined {
            channel: "room".into(),
            uid: 5,
            role: ChannelRole::Broadcaster,
            members: vec![member(1, "bob", true), member(2, "dan", true)],
        });
        let out = c.on_media_failed(1);
        assert!(matches!(
            &out[0],
            Action::Send(ClientMsg::Signal { to: Some(1), data, .. }) if data["type"] == "bye"
        ));
        assert_eq!(out[1], Action::RemoveMember { uid: 1 });
        assert!(c
            .on_member_signal(1, &Signal::Candidate("x".into()))
            .is_empty());
        // Member 2 says its media with us failed: the link goes here too.
        let out = c.on_server(ServerMsg::Signal {
            call_id: None,
            channel: Some("room".into()),
            from: "dan".into(),
            from_uid: Some(2),
            data: json!({"type": "bye", "reason": "media_failed"}),
        });
        assert_eq!(out[0], Action::RemoveMember { uid: 2 });
        assert_eq!(c.current_channel(), Some("room"));
    }

    #[test]
    fn a_channel_is_a_mesh_where_the_newcomer_offers() {
        let mut c = registered("alice");
        c.join("room", 0, false).unwrap();
        assert!(c.join("other", 0, false).is_err(), "one channel at a time");
        assert!(c.call("bob", true).is_err(), "no call while in a channel");
        let out = c.on_server(ServerMsg::Joined {
            channel: "room".into(),
            uid: 5,
            role: ChannelRole::Broadcaster,
            members: vec![member(1, "bob", true), member(2, "dan", false)],
        });
        assert_eq!(
            out[0],
            Action::StartChannel {
                channel: "room".into(),
                broadcaster: true
            }
        );
        let adds: Vec<_> = out
            .iter()
            .filter(|a| matches!(a, Action::AddMember { .. }))
            .collect();
        // A broadcaster links with everyone, audience included.
        assert_eq!(
            adds,
            vec![
                &Action::AddMember {
                    uid: 1,
                    role: Role::Offerer,
                    broadcaster: true
                },
                &Action::AddMember {
                    uid: 2,
                    role: Role::Offerer,
                    broadcaster: false
                }
            ]
        );
        let out = c.on_server(ServerMsg::UserJoined {
            channel: "room".into(),
            member: member(9, "carol", true),
        });
        assert!(out.contains(&Action::AddMember {
            uid: 9,
            role: Role::Answerer,
            broadcaster: true
        }));
        // Our signals go to that member; theirs reach its connection.
        let out = c.on_member_signal(9, &Signal::Candidate("candidate:1".into()));
        assert!(
            matches!(&out[0], Action::Send(ClientMsg::Signal { to: Some(9), channel: Some(ch), .. }) if ch == "room")
        );
        let out = c.on_server(ServerMsg::Signal {
            call_id: None,
            channel: Some("room".into()),
            from: "carol".into(),
            from_uid: Some(9),
            data: json!({"type": "answer", "sdp": "v=0"}),
        });
        assert_eq!(
            out,
            vec![Action::MemberSignal {
                uid: 9,
                signal: Signal::Answer("v=0".into())
            }]
        );
        let out = c.on_server(ServerMsg::UserOffline {
            channel: "room".into(),
            uid: 9,
            reason: OfflineReason::Dropped,
        });
        assert_eq!(out[0], Action::RemoveMember { uid: 9 });
        assert!(c
            .on_member_signal(9, &Signal::Candidate("x".into()))
            .is_empty());
        let out = c.leave("room").unwrap();
        assert_eq!(out[1], Action::StopChannel);
        assert_eq!(c.current_channel(), None);
    }

    #[test]
    fn audience_links_only_with_broadcasters_and_refused_joins_are_forgotten() {
        let mut c = registered("dan");
        c.join("room", 0, true).unwrap();
        let out = c.on_server(ServerMsg::Joined {
            channel: "room".into(),
            uid: 2,
            role: ChannelRole::Audience,
            members: vec![member(1, "bob", true), member(3, "eve", false)],
        });
        assert_eq!(
            out[0],
            Action::StartChannel {
                channel: "room".into(),
                broadcaster: false
            }
        );
        assert!(out.contains(&Action::AddMember {
            uid: 1,
            role: Role::Offerer,
            broadcaster: true
        }));
        assert!(!out
            .iter()
            .any(|a| matches!(a, Action::AddMember { uid: 3, .. })));
        let out = c.on_server(ServerMsg::UserJoined {
            channel: "room".into(),
            member: member(4, "fay", false),
        });
        assert!(!out.iter().any(|a| matches!(a, Action::AddMember { .. })));

        let mut c = registered("gus");
        c.join("full", 0, false).unwrap();
        let out = c.on_server(ServerMsg::Error {
            code: "channel_full".into(),
            message: "full".into(),
            call_id: None,
            channel: Some("full".into()),
        });
        assert!(out.contains(&Action::StopChannel));
        assert_eq!(c.current_channel(), None);
    }

    #[test]
    fn a_lost_server_connection_rejoins_the_channel_with_the_same_uid() {
        let mut c = registered("alice");
        c.join("room", 0, false).unwrap();
        c.on_server(ServerMsg::Joined {
            channel: "room".into(),
            uid: 5,
            role: ChannelRole::Broadcaster,
            members: vec![member(1, "bob", true)],
        });
        let out = c.on_connection_lost();
        assert_eq!(out, vec![Action::RemoveMember { uid: 1 }]);
        let out = c.on_server(ServerMsg::Registered {
            user_id: "alice".into(),
            expires_at: 0,
            heartbeat_ms: 2000,
        });
        assert!(
            matches!(&out[0], Action::Send(ClientMsg::Join { channel, uid: 5, .. }) if channel == "room")
        );
        let out = c.on_server(ServerMsg::Joined {
            channel: "room".into(),
            uid: 5,
            role: ChannelRole::Broadcaster,
            members: vec![member(1, "bob", true)],
        });
        assert!(
            !out.iter()
                .any(|a| matches!(a, Action::Emit(Event::Channel(ChannelEvent::Joined { .. })))),
            "a rejoin is not a new join"
        );
        assert!(out.contains(&Action::AddMember {
            uid: 1,
            role: Role::Offerer,
            broadcaster: true
        }));
        // Given up for good: the channel is left.
        c.on_connection_lost();
        let out = c.on_closed();
        assert!(out.contains(&Action::StopChannel));
        assert!(
            out.contains(&Action::Emit(Event::Channel(ChannelEvent::Left {
                channel: "room".into()
            })))
        );
    }

    #[test]
    fn outages_and_races_leave_no_channel_media_behind() {
        let joined = |members: Vec<media_protocol::Member>| ServerMsg::Joined {
            channel: "room".into(),
            uid: 5,
            role: ChannelRole::Broadcaster,
            members,
        };
        let left = |out: &[Action]| {
            out.contains(&Action::Emit(Event::Channel(ChannelEvent::Left {
                channel: "room".into(),
            })))
        };
        // Leaving while the server is unreachable ends the channel at once.
        let mut c = registered("alice");
        c.join("room", 0, false).unwrap();
        c.on_server(joined(vec![member(1, "bob", true)]));
        c.on_connection_lost();
        let out = c.leave("room").unwrap();
        assert!(out.contains(&Action::StopChannel) && left(&out), "{out:?}");
        assert!(!out.iter().any(|a| matches!(a, Action::Send(_))));
        let out = c.on_server(ServerMsg::Registered {
            user_id: "alice".into(),
            expires_at: 0,
            heartbeat_ms: 2000,
        });
        assert!(out.is_empty(), "no rejoin after leaving: {out:?}");

        // A join that never got its answer is given up with the connection.
        c.join("room", 0, false).unwrap();
        let out = c.on_connection_lost();
        assert!(left(&out), "{out:?}");
        assert_eq!(c.current_channel(), None);

        // A rejoin reports who left meanwhile, and not those still there.
        let mut c = registered("alice");
        c.join("room", 0, false).unwrap();
        c.on_server(joined(vec![member(1, "bob", true), member(2, "eve", true)]));
        c.on_connection_lost();
        let out = c.on_server(ServerMsg::Registered {
            user_id: "alice".into(),
            expires_at: 0,
            heartbeat_ms: 2000,
        });
        assert!(matches!(
            &out[0],
            Action::Send(ClientMsg::Join { uid: 5, .. })
        ));
        let out = c.on_server(joined(vec![member(1, "bob", true)]));
        let events: Vec<_> = out
            .iter()
            .filter_map(|a| match a {
                Action::Emit(Event::Channel(e)) => Some(e.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            events,
            vec![ChannelEvent::UserOffline {
                channel: "room".into(),
                uid: 2,
                dropped: true
            }]
        );

        // Media started by a `joined` that raced a leave stops at `left`.
        let out = c.leave("room").unwrap();
        assert!(out.contains(&Action::StopChannel));
        let out = c.on_server(ServerMsg::Left {
            channel: "room".into(),
        });
        assert!(out.contains(&Action::StopChannel) && left(&out));
        // And media that cannot start makes us leave instead of idling.
        c.join("room", 0, false).unwrap();
        c.on_server(joined(vec![]));
        let out = c.on_channel_failed("room");
        assert!(matches!(&out[0], Action::Send(ClientMsg::Leave { .. })) && left(&out));
    }

    #[test]
    fn signals_round_trip_through_browser_json() {
        for s in [
            Signal::Offer("v=0\r\n".into()),
            Signal::Answer("v=0\r\n".into()),
            Signal::Candidate("candidate:1 1 udp 1 127.0.0.1 5000 typ host".into()),
        ] {
            assert_eq!(signal_from_json(&signal_to_json(&s)), Some(s));
        }
        assert_eq!(signal_from_json(&json!({"candidate": ""})), None);
        assert_eq!(signal_from_json(&json!({"type": "pranswer"})), None);
        assert_eq!(signal_from_json(&json!(42)), None);
    }
}
