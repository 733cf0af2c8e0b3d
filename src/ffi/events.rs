//! What the host is told: `media_event` and its enums, the event callback
//! (on "media-events") and the frame callback (on "media-render").

use super::*;

/// `media_event.type` values.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_event_type {
    /// `stream` changed to `state`.
    MEDIA_EVENT_STATE_CHANGED = 0,
    /// A failure while running: `error` and `message`.
    MEDIA_EVENT_ERROR = 1,
    /// `width` x `height`.
    MEDIA_EVENT_FIRST_LOCAL_VIDEO_FRAME = 2,
    /// `width` x `height`.
    MEDIA_EVENT_FIRST_REMOTE_VIDEO_FRAME = 3,
    MEDIA_EVENT_FIRST_REMOTE_AUDIO_FRAME = 4,
    /// `stats` holds a snapshot.
    MEDIA_EVENT_STATS = 5,
    /// The network peer's connection changed to `connection`.
    MEDIA_EVENT_CONNECTION = 6,
    /// The server connection changed to `server_state`; on
    /// `MEDIA_SERVER_FAILED`, `code` and `message` say why.
    MEDIA_EVENT_SERVER = 7,
    /// Call progress `call` for `call_id` (`user_id`, `nickname`, `video`
    /// on incoming calls; `end_reason` and `code` when ended).
    MEDIA_EVENT_CALL = 8,
    /// Channel membership `channel_event` in `channel` (`uid`, `user_id`,
    /// `dropped`).
    MEDIA_EVENT_CHANNEL = 9,
    /// The token expires at `expires_at` (Unix seconds): renew it.
    MEDIA_EVENT_TOKEN_WILL_EXPIRE = 10,
    /// The server refused a request: `code`, `message`, maybe `channel`.
    MEDIA_EVENT_SERVER_ERROR = 11,
    /// Every 2 s in a call: `tx_quality` and `rx_quality`, 0 unknown,
    /// 1 excellent, 2 good, 3 poor, 4 bad, 5 very bad, 6 down.
    MEDIA_EVENT_NETWORK_QUALITY = 12,
}

/// The state in a `MEDIA_EVENT_SERVER`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_server_state {
    MEDIA_SERVER_CONNECTING = 0,
    /// Registered: calls can be placed and received.
    MEDIA_SERVER_CONNECTED = 1,
    /// The connection broke; trying again.
    MEDIA_SERVER_RECONNECTING = 2,
    /// Gave up; `code` is e.g. "token_expired", "token_invalid",
    /// "token_wrong_scope", "unknown_app", "replaced", "unreachable".
    MEDIA_SERVER_FAILED = 3,
    /// Closed on request.
    MEDIA_SERVER_DISCONNECTED = 4,
}

/// The progress in a `MEDIA_EVENT_CALL`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_call_event {
    /// Someone calls: `media_engine_accept` or `media_engine_reject`.
    MEDIA_CALL_INCOMING = 0,
    /// The callee's app is ringing.
    MEDIA_CALL_RINGING = 1,
    /// The callee accepted; media is connecting.
    MEDIA_CALL_ACCEPTED = 2,
    /// Over: see `end_reason`.
    MEDIA_CALL_ENDED = 3,
    /// The peer muted or unmuted: `audio_muted`, `video_muted`.
    MEDIA_CALL_REMOTE_MUTE = 4,
}

/// Why a call ended.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_call_end_reason {
    MEDIA_CALL_END_NONE = 0,
    /// The callee is not online.
    MEDIA_CALL_END_OFFLINE = 1,
    /// The callee is in another call.
    MEDIA_CALL_END_BUSY = 2,
    MEDIA_CALL_END_REJECTED = 3,
    /// Nobody answered in time.
    MEDIA_CALL_END_TIMEOUT = 4,
    /// The caller gave up while it rang.
    MEDIA_CALL_END_CANCELLED = 5,
    MEDIA_CALL_END_HANGUP = 6,
    /// The other side's connection to the server was lost.
    MEDIA_CALL_END_PEER_DROPPED = 7,
    /// Our connection to the server was lost.
    MEDIA_CALL_END_CONNECTION_LOST = 8,
    /// The server refused something about the call: see `code`.
    MEDIA_CALL_END_ERROR = 9,
    /// The media connection failed: it never connected (within 20 s of
    /// the call's start), or one that was up stayed unreachable (15 s
    /// after it broke). Both sides see it; `error` is `MEDIA_ERR_NETWORK`.
    MEDIA_CALL_END_MEDIA_FAILED = 10,
}

/// The change in a `MEDIA_EVENT_CHANNEL`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_channel_event {
    /// We joined as `uid`.
    MEDIA_CHANNEL_JOINED = 0,
    /// Member `uid` (`user_id`) joined, or was already there when we joined.
    MEDIA_CHANNEL_USER_JOINED = 1,
    /// Member `uid` left (`dropped` false) or was lost (`dropped` true).
    MEDIA_CHANNEL_USER_OFFLINE = 2,
    /// We left.
    MEDIA_CHANNEL_LEFT = 3,
    /// Member `uid` muted or unmuted (`audio_muted`, `video_muted`).
    MEDIA_CHANNEL_REMOTE_MUTE = 4,
}

/// The state in a `MEDIA_EVENT_CONNECTION`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_connection_state {
    MEDIA_CONNECTION_CONNECTING = 0,
    MEDIA_CONNECTION_CONNECTED = 1,
    /// Lost after being connected; the engine keeps trying.
    MEDIA_CONNECTION_DISCONNECTED = 2,
    /// Could not connect, or gave up.
    MEDIA_CONNECTION_FAILED = 3,
}

/// Which stream a `MEDIA_EVENT_STATE_CHANGED` concerns.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_stream {
    MEDIA_STREAM_NONE = 0,
    MEDIA_STREAM_LOCAL_AUDIO = 1,
    MEDIA_STREAM_LOCAL_VIDEO = 2,
    MEDIA_STREAM_ECHO_TEST = 3,
    /// A call with a network peer.
    MEDIA_STREAM_CALL = 4,
    /// The media of a channel.
    MEDIA_STREAM_CHANNEL = 5,
}

/// The state in a `MEDIA_EVENT_STATE_CHANGED`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_stream_state {
    MEDIA_STREAM_STOPPED = 0,
    MEDIA_STREAM_STARTED = 1,
    /// Stopped by a failure; a `MEDIA_EVENT_ERROR` came first.
    MEDIA_STREAM_FAILED = 2,
}

/// One event. Pointers inside are valid only during the callback.
#[repr(C)]
pub struct media_event {
    pub r#type: media_event_type,
    pub stream: media_stream,
    pub state: media_stream_state,
    /// For `MEDIA_EVENT_ERROR`; for a failed server connection, a call that
    /// ended in failure (busy, offline, refused) and `MEDIA_EVENT_SERVER_ERROR`
    /// the matching code (`MEDIA_ERR_BAD_TOKEN`, `MEDIA_ERR_BUSY`, ...);
    /// `MEDIA_OK` otherwise.
    pub error: media_result,
    /// For `MEDIA_EVENT_ERROR`: a NUL-terminated UTF-8 message; else NULL.
    pub message: *const c_char,
    pub width: u32,
    pub height: u32,
    /// For `MEDIA_EVENT_CONNECTION`.
    pub connection: media_connection_state,
    /// For `MEDIA_EVENT_STATS`; NULL otherwise.
    pub stats: *const media_stats,
    /// For `MEDIA_EVENT_SERVER`.
    pub server_state: media_server_state,
    /// For `MEDIA_EVENT_CALL`.
    pub call: media_call_event,
    /// For `MEDIA_CALL_ENDED`.
    pub end_reason: media_call_end_reason,
    /// For `MEDIA_EVENT_CHANNEL`.
    pub channel_event: media_channel_event,
    /// Strings below are NUL-terminated UTF-8 valid during the callback, or NULL.
    pub call_id: *const c_char,
    pub user_id: *const c_char,
    pub nickname: *const c_char,
    pub channel: *const c_char,
    /// A server error code ("busy", "token_expired", ...).
    pub code: *const c_char,
    /// The channel member an event is about; for first remote frames,
    /// connection and network quality events the remote's uid (0 in a 1v1
    /// call).
    pub uid: u32,
    /// Incoming call with video.
    pub video: bool,
    /// The member was lost rather than leaving.
    pub dropped: bool,
    /// For `MEDIA_EVENT_TOKEN_WILL_EXPIRE`: Unix seconds.
    pub expires_at: u64,
    /// For `MEDIA_EVENT_NETWORK_QUALITY`.
    pub tx_quality: u32,
    pub rx_quality: u32,
    /// For `MEDIA_CALL_REMOTE_MUTE`.
    pub audio_muted: bool,
    pub video_muted: bool,
}

/// Keeps the C strings of one event alive during its callback.
#[derive(Default)]
pub(crate) struct EventStrings(Vec<std::ffi::CString>);

impl EventStrings {
    fn add(&mut self, s: &str) -> *const c_char {
        let c = std::ffi::CString::new(s.replace('\0', " ")).unwrap_or_default();
        let p = c.as_ptr();
        self.0.push(c);
        p
    }
}

/// Receives events on the engine's "media-events" thread.
pub type media_event_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const media_event)>;

/// Whose picture a `media_video_frame` is.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_frame_source {
    /// The local camera preview.
    MEDIA_FRAME_LOCAL = 0,
    /// Decoded video from the peer (or the echo test).
    MEDIA_FRAME_REMOTE = 1,
}

/// An I420 frame. The plane pointers are valid only during the callback;
/// copy what you need to keep.
#[repr(C)]
pub struct media_video_frame {
    pub source: media_frame_source,
    pub width: u32,
    pub height: u32,
    pub y: *const u8,
    pub u: *const u8,
    pub v: *const u8,
    pub y_stride: u32,
    pub u_stride: u32,
    pub v_stride: u32,
    /// Capture time on the engine clock (microseconds since the engine was created).
    pub capture_time_us: u64,
    /// For remote frames: the channel member's uid (0 in a 1v1 call).
    pub uid: u32,
}

/// Receives video frames on the engine's "media-render" thread.
pub type media_frame_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, frame: *const media_video_frame)>;

/// The host's userdata pointer; the host promises it may be used from the
/// engine's threads.
pub(crate) struct UserData(*mut c_void);
// SAFETY: the host promises its userdata may be used from the engine's threads (the callback setters document it).
unsafe impl Send for UserData {}

/// Sets the event callback (NULL clears it). `userdata` is passed back
/// unchanged. The callback runs on the "media-events" thread.
#[no_mangle]
pub extern "C" fn media_engine_set_event_callback(
    engine: *mut media_engine,
    callback: media_event_callback,
    userdata: *mut c_void,
) -> media_result {
    with_engine(engine, |e| {
        let Some(cb) = callback else {
            e.set_event_handler(None);
            return MEDIA_OK;
        };
        let userdata = UserData(userdata);
        e.set_event_handler(Some(Box::new(move |event: &Event| {
            let ud = &userdata;
            let mut strings = EventStrings::default();
            let mut stats = None;
            let mut ev = media_event {
                r#type: media_event_type::MEDIA_EVENT_STATE_CHANGED,
                stream: media_stream::MEDIA_STREAM_NONE,
                state: media_stream_state::MEDIA_STREAM_STOPPED,
                error: MEDIA_OK,
                message: std::ptr::null(),
                width: 0,
                height: 0,
                connection: media_connection_state::MEDIA_CONNECTION_CONNECTING,
                stats: std::ptr::null(),
                server_state: media_server_state::MEDIA_SERVER_CONNECTING,
                call: media_call_event::MEDIA_CALL_INCOMING,
                end_reason: media_call_end_reason::MEDIA_CALL_END_NONE,
                channel_event: media_channel_event::MEDIA_CHANNEL_JOINED,
                call_id: std::ptr::null(),
                user_id: std::ptr::null(),
                nickname: std::ptr::null(),
                channel: std::ptr::null(),
                code: std::ptr::null(),
                uid: 0,
                video: false,
                dropped: false,
                expires_at: 0,
                tx_quality: 0,
                rx_quality: 0,
                audio_muted: false,
                video_muted: false,
            };
            match event {
                Event::StateChanged { stream, state } => {
                    ev.stream = match stream {
                        Stream::LocalAudio => media_stream::MEDIA_STREAM_LOCAL_AUDIO,
                        Stream::LocalVideo => media_stream::MEDIA_STREAM_LOCAL_VIDEO,
                        Stream::EchoTest => media_stream::MEDIA_STREAM_ECHO_TEST,
                        Stream::Call => media_stream::MEDIA_STREAM_CALL,
                        Stream::Channel => media_stream::MEDIA_STREAM_CHANNEL,
                    };
                    ev.state = match state {
                        StreamState::Stopped => media_stream_state::MEDIA_STREAM_STOPPED,
                        StreamState::Started => media_stream_state::MEDIA_STREAM_STARTED,
                        StreamState::Failed => media_stream_state::MEDIA_STREAM_FAILED,
                    };
                }
                Event::Error { kind, message: m } => {
                    ev.r#type = media_event_type::MEDIA_EVENT_ERROR;
                    ev.error = (*kind).into();
                    ev.message = strings.add(m);
                }
                Event::FirstLocalVideoFrame { width, height } => {
                    ev.r#type = media_event_type::MEDIA_EVENT_FIRST_LOCAL_VIDEO_FRAME;
                    (ev.width, ev.height) = (*width, *height);
                }
                Event::FirstRemoteVideoFrame { uid, width, height } => {
                    ev.r#type = media_event_type::MEDIA_EVENT_FIRST_REMOTE_VIDEO_FRAME;
                    (ev.width, ev.height) = (*width, *height);
                    ev.uid = *uid;
                }
                Event::FirstRemoteAudioFrame { uid } => {
                    ev.r#type = media_event_type::MEDIA_EVENT_FIRST_REMOTE_AUDIO_FRAME;
                    ev.uid = *uid;
                }
                Event::Connection { uid, state } => {
                    use crate::engine::events::ConnectionState as C;
                    ev.r#type = media_event_type::MEDIA_EVENT_CONNECTION;
                    ev.uid = *uid;
                    ev.connection = match state {
                        C::Connecting => media_connection_state::MEDIA_CONNECTION_CONNECTING,
                        C::Connected => media_connection_state::MEDIA_CONNECTION_CONNECTED,
                        C::Disconnected => media_connection_state::MEDIA_CONNECTION_DISCONNECTED,
                        C::Failed => media_connection_state::MEDIA_CONNECTION_FAILED,
                    };
                }
                Event::Stats(s) => {
                    ev.r#type = media_event_type::MEDIA_EVENT_STATS;
                    let boxed = Box::new(stats_to_c(s));
                    ev.stats = &*boxed;
                    stats = Some(boxed);
                }
                Event::Server(state) => {
                    use crate::signal::ServerState as S;
                    ev.r#type = media_event_type::MEDIA_EVENT_SERVER;
                    ev.server_state = match state {
                        S::Connecting => media_server_state::MEDIA_SERVER_CONNECTING,
                        S::Connected => media_server_state::MEDIA_SERVER_CONNECTED,
                        S::Reconnecting { .. } => media_server_state::MEDIA_SERVER_RECONNECTING,
                        S::Failed { code, message } => {
                            ev.error = server_code_result(code);
                            ev.code = strings.add(code);
                            ev.message = strings.add(message);
                            media_server_state::MEDIA_SERVER_FAILED
                        }
                        S::Disconnected => media_server_state::MEDIA_SERVER_DISCONNECTED,
                    };
                }
                Event::Call(c) => {
                    use crate::signal::{CallEndReason as R, CallEvent as C};
                    ev.r#type = media_event_type::MEDIA_EVENT_CALL;
                    match c {
                        C::Incoming {
                            call_id,
                            from_user,
                            from_nickname,
                            video,
                        } => {
                            ev.call = media_call_event::MEDIA_CALL_INCOMING;
                            ev.call_id = strings.add(call_id);
                            ev.user_id = strings.add(from_user);
                            ev.nickname = strings.add(from_nickname);
                            ev.video = *video;
                        }
                        C::Ringing { call_id } => {
                            ev.call = media_call_event::MEDIA_CALL_RINGING;
                            ev.call_id = strings.add(call_id);
                        }
                        C::Accepted { call_id } => {
                            ev.call = media_call_event::MEDIA_CALL_ACCEPTED;
                            ev.call_id = strings.add(call_id);
                        }
                        C::RemoteMute {
                            call_id,
                            audio_muted,
                            video_muted,
                        } => {
                            ev.call = media_call_event::MEDIA_CALL_REMOTE_MUTE;
                            ev.call_id = strings.add(call_id);
                            ev.audio_muted = *audio_muted;
                            ev.video_muted = *video_muted;
                        }
                        C::Ended { call_id, reason } => {
                            use media_call_end_reason::*;
                            ev.call = media_call_event::MEDIA_CALL_ENDED;
                            ev.call_id = strings.add(call_id);
                            ev.error = match reason {
                                R::Offline => MEDIA_ERR_PEER_OFFLINE,
                                R::Busy => MEDIA_ERR_BUSY,
                                R::MediaFailed => MEDIA_ERR_NETWORK,
                                R::Error(code) => server_code_result(code),
                                _ => MEDIA_OK,
                            };
                            ev.end_reason = match reason {
                                R::Offline => MEDIA_CALL_END_OFFLINE,
                                R::Busy => MEDIA_CALL_END_BUSY,
                                R::Rejected => MEDIA_CALL_END_REJECTED,
                                R::Timeout => MEDIA_CALL_END_TIMEOUT,
                                R::Cancelled => MEDIA_CALL_END_CANCELLED,
                                R::Hangup => MEDIA_CALL_END_HANGUP,
                                R::PeerDropped => MEDIA_CALL_END_PEER_DROPPED,
                                R::ConnectionLost => MEDIA_CALL_END_CONNECTION_LOST,
                                R::MediaFailed => MEDIA_CALL_END_MEDIA_FAILED,
                                R::Error(code) => {
                                    ev.code = strings.add(code);
                                    MEDIA_CALL_END_ERROR
                                }
                            };
                        }
                    }
                }
                Event::Channel(c) => {
                    use crate::signal::ChannelEvent as C;
                    ev.r#type = media_event_type::MEDIA_EVENT_CHANNEL;
                    match c {
                        C::Joined { channel, uid, .. } => {
                            ev.channel_event = media_channel_event::MEDIA_CHANNEL_JOINED;
                            ev.channel = strings.add(channel);
                            ev.uid = *uid;
                        }
                        C::UserJoined {
                            channel,
                            uid,
                            user_id,
                        } => {
                            ev.channel_event = media_channel_event::MEDIA_CHANNEL_USER_JOINED;
                            ev.channel = strings.add(channel);
                            ev.uid = *uid;
                            ev.user_id = strings.add(user_id);
                        }
                        C::UserOffline {
                            channel,
                            uid,
                            dropped,
                        } => {
                            ev.channel_event = media_channel_event::MEDIA_CHANNEL_USER_OFFLINE;
                            ev.channel = strings.add(channel);
                            ev.uid = *uid;
                            ev.dropped = *dropped;
                        }
                        C::Left { channel } => {
                            ev.channel_event = media_channel_event::MEDIA_CHANNEL_LEFT;
                            ev.channel = strings.add(channel);
                        }
                        C::RemoteMute {
                            channel,
                            uid,
                            audio_muted,
                            video_muted,
                        } => {
                            ev.channel_event = media_channel_event::MEDIA_CHANNEL_REMOTE_MUTE;
                            ev.channel = strings.add(channel);
                            ev.uid = *uid;
                            ev.audio_muted = *audio_muted;
                            ev.video_muted = *video_muted;
                        }
                    }
                }
                Event::NetworkQuality { uid, tx, rx } => {
                    ev.r#type = media_event_type::MEDIA_EVENT_NETWORK_QUALITY;
                    ev.uid = *uid;
                    ev.tx_quality = *tx as u32;
                    ev.rx_quality = *rx as u32;
                }
                Event::TokenWillExpire { expires_at } => {
                    ev.r#type = media_event_type::MEDIA_EVENT_TOKEN_WILL_EXPIRE;
                    ev.expires_at = *expires_at;
                }
                Event::ServerError {
                    code,
                    message,
                    channel,
                } => {
                    ev.r#type = media_event_type::MEDIA_EVENT_SERVER_ERROR;
                    ev.error = server_code_result(code);
                    ev.code = strings.add(code);
                    ev.message = strings.add(message);
                    if let Some(ch) = channel {
                        ev.channel = strings.add(ch);
                    }
                }
            }
            // SAFETY: the host gave this callback for this userdata; `ev`
            // and what it points to outlive the call.
            unsafe { cb(ud.0, &ev) };
            drop((strings, stats));
        })));
        MEDIA_OK
    })
}

/// Sets the video frame callback (NULL clears it) for local preview and
/// decoded remote frames. Runs on the "media-render" thread; a slow
/// callback makes the engine drop (and count) the oldest queued frames.
#[no_mangle]
pub extern "C" fn media_engine_set_frame_callback(
    engine: *mut media_engine,
    callback: media_frame_callback,
    userdata: *mut c_void,
) -> media_result {
    with_engine(engine, |e| {
        let Some(cb) = callback else {
            e.set_frame_handler(None);
            return MEDIA_OK;
        };
        let userdata = UserData(userdata);
        e.set_frame_handler(Some(Box::new(move |source, frame| {
            let ud = &userdata;
            let (source, uid) = match source {
                FrameSource::Local => (media_frame_source::MEDIA_FRAME_LOCAL, 0),
                FrameSource::Remote(uid) => (media_frame_source::MEDIA_FRAME_REMOTE, uid),
            };
            let f = media_video_frame {
                source,
                uid,
                width: frame.width,
                height: frame.height,
                y: frame.y().as_ptr(),
                u: frame.u().as_ptr(),
                v: frame.v().as_ptr(),
                y_stride: frame.y_stride() as u32,
                u_stride: frame.chroma_stride() as u32,
                v_stride: frame.chroma_stride() as u32,
                capture_time_us: frame.capture_us,
            };
            // SAFETY: as for events; the planes live as long as `frame`.
            unsafe { cb(ud.0, &f) };
        })));
        MEDIA_OK
    })
}
