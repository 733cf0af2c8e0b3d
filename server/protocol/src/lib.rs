//! The JSON messages of the libmedia rendezvous protocol (server/PROTOCOL.md),
//! shared by the server and the client in the library. Every
//! message is one WebSocket text frame holding an object with a `"type"`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Audio-only or audio + video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Audio,
    Video,
}

/// A channel member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sends and receives media.
    #[default]
    Broadcaster,
    /// Only receives.
    Audience,
}

/// Client to server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    Register {
        app_id: String,
        user_id: String,
        #[serde(default)]
        nickname: String,
        token: String,
    },
    RenewToken {
        token: String,
    },
    Ping,
    Call {
        call_id: String,
        to: String,
        media: MediaKind,
    },
    Accept {
        call_id: String,
    },
    Reject {
        call_id: String,
    },
    Cancel {
        call_id: String,
    },
    Hangup {
        call_id: String,
    },
    Join {
        channel: String,
        #[serde(default)]
        uid: u32,
        #[serde(default)]
        role: Role,
    },
    Leave {
        channel: String,
    },
    /// SDP or ICE data for the peer of a call (`call_id`) or for a channel
    /// member (`channel` + `to` uid).
    Signal {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        to: Option<u32>,
        data: Value,
    },
}

/// A user as others see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    pub user_id: String,
    pub nickname: String,
}

/// A channel member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub uid: u32,
    pub user_id: String,
    pub role: Role,
}

/// Why a call ended (or never started).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The callee is not connected.
    Offline,
    /// The callee is already in (or ringing for) a call.
    Busy,
    Rejected,
    /// Nobody answered in time.
    Timeout,
    /// The caller gave up before an answer.
    Cancelled,
    /// One side hung up.
    Hangup,
    /// The other side's connection was lost.
    PeerDropped,
}

/// Why a member left a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfflineReason {
    /// Left on purpose.
    Quit,
    /// Connection lost or heartbeats missed.
    Dropped,
}

/// Server to client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Registered {
        user_id: String,
        expires_at: u64,
        heartbeat_ms: u64,
    },
    TokenWillExpire {
        expires_at: u64,
    },
    TokenRenewed {
        expires_at: u64,
    },
    Pong,
    /// To the callee.
    IncomingCall {
        call_id: String,
        from: Peer,
        media: MediaKind,
    },
    /// To the caller: the callee's app is ringing.
    Ringing {
        call_id: String,
    },
    /// To the caller: the callee accepted; the caller sends the offer.
    Accepted {
        call_id: String,
    },
    CallEnded {
        call_id: String,
        reason: EndReason,
    },
    Joined {
        channel: String,
        uid: u32,
        role: Role,
        members: Vec<Member>,
    },
    UserJoined {
        channel: String,
        member: Member,
    },
    UserOffline {
        channel: String,
        uid: u32,
        reason: OfflineReason,
    },
    Left {
        channel: String,
    },
    Signal {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
        /// The sender's user id.
        from: String,
        /// The sender's uid in `channel`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from_uid: Option<u32>,
        data: Value,
    },
    Error {
        code: String,
        message: String,
        /// The call or channel the error concerns, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        channel: Option<String>,
    },
}

impl ServerMsg {
    pub fn error(code: &str, message: impl Into<String>) -> Self {
        ServerMsg::Error {
            code: code.into(),
            message: message.into(),
            call_id: None,
            channel: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_the_documented_shape() {
        let m: ClientMsg =
            serde_json::from_str(r#"{"type":"call","call_id":"c1","to":"bob","media":"video"}"#)
                .unwrap();
        assert_eq!(
            m,
            ClientMsg::Call {
                call_id: "c1".into(),
                to: "bob".into(),
                media: MediaKind::Video
            }
        );
        let m: ClientMsg = serde_json::from_str(r#"{"type":"join","channel":"room-7"}"#).unwrap();
        assert_eq!(
            m,
            ClientMsg::Join {
                channel: "room-7".into(),
                uid: 0,
                role: Role::Broadcaster
            }
        );
        let s = serde_json::to_string(&ServerMsg::UserOffline {
            channel: "r".into(),
            uid: 3,
            reason: OfflineReason::Dropped,
        })
        .unwrap();
        assert_eq!(
            s,
            r#"{"type":"user_offline","channel":"r","uid":3,"reason":"dropped"}"#
        );
        assert!(serde_json::from_str::<ClientMsg>(r#"{"type":"call","to":"bob"}"#).is_err());
        assert!(serde_json::from_str::<ClientMsg>(r#"{"type":"launch_missiles"}"#).is_err());
    }
}
