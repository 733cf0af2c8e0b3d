//! The JSON messages of the libmedia rendezvous protocol (server/PROTOCOL.md),
//! shared by the server and the client in the library. Every
//! message is one WebSocket text frame holding an object with a `"type"`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The longest user id, channel name or call id, in bytes (they are ASCII).
pub const MAX_ID_LEN: usize = 64;

/// The longest nickname, in characters (Unicode scalar values, not bytes):
/// 64 CJK characters are 192 bytes of UTF-8 and still a valid nickname.
pub const MAX_NICKNAME_CHARS: usize = 64;

/// The identifier alphabet (server/PROTOCOL.md, "Identifiers"): 1 to
/// [`MAX_ID_LEN`] ASCII letters, digits, `-`, `_`, `.` and `@`. Nothing in
/// it means anything to HTML, a URL query, a shell or a log line.
fn valid_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

/// Whether `s` may be a user id: 1 to [`MAX_ID_LEN`] ASCII letters, digits,
/// `-`, `_`, `.` and `@` (`alice`, `alice@example.com`, `a.b-c_d`).
pub fn valid_user_id(s: &str) -> bool {
    valid_identifier(s)
}

/// Whether `s` may name a channel: the same alphabet as user ids (so never
/// `*`, which a token's channel claim uses for "any channel").
pub fn valid_channel(s: &str) -> bool {
    valid_identifier(s)
}

/// Whether `s` may be a call id: the same alphabet as user ids.
pub fn valid_call_id(s: &str) -> bool {
    valid_identifier(s)
}

/// Whether `s` may be a nickname: any Unicode text (empty included) of at
/// most [`MAX_NICKNAME_CHARS`] characters, with no control characters (C0,
/// DEL, C1), no line or paragraph separators and no bidirectional
/// embedding, override or isolate marks, which could make a name display
/// as something else. Markup characters are allowed: clients show
/// nicknames as text.
pub fn valid_nickname(s: &str) -> bool {
    s.chars().count() <= MAX_NICKNAME_CHARS && !s.chars().any(refused_in_nickname)
}

fn refused_in_nickname(c: char) -> bool {
    const LINE_SEPARATORS: [char; 2] = ['\u{2028}', '\u{2029}'];
    let bidi_embedding_or_override = ('\u{202A}'..='\u{202E}').contains(&c);
    let bidi_isolate = ('\u{2066}'..='\u{2069}').contains(&c);
    c.is_control() || LINE_SEPARATORS.contains(&c) || bidi_embedding_or_override || bidi_isolate
}

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
        /// Why, when it is not the user's choice: only `media_failed` (the
        /// media connection failed) is passed on to the peer; anything
        /// else, or none, ends the call as `hangup`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<EndReason>,
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
    /// The nickname the member registered with (free Unicode text: show it
    /// as text, never as markup). Absent from older servers' messages.
    #[serde(default)]
    pub nickname: String,
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
    /// The media connection between the two failed (or never connected).
    MediaFailed,
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

    #[test]
    fn user_ids_use_the_identifier_alphabet() {
        for ok in [
            "alice",
            "alice@example.com",
            "a.b-c_d",
            "A9",
            &"x".repeat(64),
        ] {
            assert!(valid_user_id(ok), "{ok:?} is a valid user id");
        }
        for bad in [
            "",
            "<b>x</b>",
            "a\"b",
            "a=b",
            "a b",
            "a/b",
            "*",
            "张三",
            "tab\there",
            &"x".repeat(65),
        ] {
            assert!(!valid_user_id(bad), "{bad:?} is refused as a user id");
        }
        assert!(valid_channel("room-7") && !valid_channel("*") && !valid_channel("<i>"));
        assert!(valid_call_id("alice-3f2a-1") && !valid_call_id("c\"1"));
    }

    #[test]
    fn nicknames_are_unicode_text_counted_in_characters() {
        assert!(valid_nickname("张三"));
        assert!(valid_nickname(""));
        assert!(valid_nickname("Zoë 👩‍👩‍👧"));
        // Markup is just text in a nickname.
        assert!(valid_nickname(r#"<img src=x onerror="alert(1)">"#));
        let cjk64 = "张".repeat(MAX_NICKNAME_CHARS);
        assert_eq!(cjk64.len(), 192, "three bytes per character");
        assert!(valid_nickname(&cjk64));
        assert!(!valid_nickname(&"张".repeat(MAX_NICKNAME_CHARS + 1)));
        for bad in [
            "a\nb",
            "a\0",
            "bell\u{7}",
            "\u{7f}",
            "\u{85}",
            "x\u{202E}gnp.exe",
            "a\u{2028}b",
        ] {
            assert!(!valid_nickname(bad), "{bad:?} is refused as a nickname");
        }
    }

    #[test]
    fn members_carry_nicknames_and_older_messages_still_parse() {
        let m = Member {
            uid: 3,
            user_id: "bob".into(),
            nickname: "张三".into(),
            role: Role::Audience,
        };
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(
            s,
            r#"{"uid":3,"user_id":"bob","nickname":"张三","role":"audience"}"#
        );
        let old: Member =
            serde_json::from_str(r#"{"uid":3,"user_id":"bob","role":"audience"}"#).unwrap();
        assert_eq!(old.nickname, "");
    }
}
