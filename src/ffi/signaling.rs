//! The rendezvous server connection (`media_server_config`), 1v1 calls and
//! channels.

use super::*;

/// Where and who to register as with `media_engine_connect_server`.
/// Initialise with `media_server_config_default` (which sets
/// `struct_size`), then set the strings. Fields added in later versions go
/// at the end.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct media_server_config {
    /// `sizeof(media_server_config)` as the host was compiled.
    pub struct_size: u32,
    /// Reconnection attempts after the connection breaks.
    pub max_reconnects: u32,
    /// "ws://host:port/ws".
    pub url: *const c_char,
    pub app_id: *const c_char,
    /// The user's openid.
    pub user_id: *const c_char,
    /// Shown to people this user calls; NULL: the user id.
    pub nickname: *const c_char,
    /// From `media-server token` or the app's own token service.
    pub token: *const c_char,
    /// Offer only this IP as ICE host candidate; NULL: every interface.
    pub host_ip: *const c_char,
    /// "host:port" of a STUN server for a server-reflexive candidate; NULL: none.
    pub stun_server: *const c_char,
}

// SAFETY: repr(C) plain data led by `struct_size`; pointers are only read
// as possibly-NULL C strings.
unsafe impl Grown for media_server_config {
    const NAME: &'static str = "media_server_config";
    const V1_SIZE: usize = std::mem::size_of::<media_server_config>();
}

pub(crate) fn server_config_defaults() -> media_server_config {
    media_server_config {
        struct_size: std::mem::size_of::<media_server_config>() as u32,
        url: std::ptr::null(),
        app_id: std::ptr::null(),
        user_id: std::ptr::null(),
        nickname: std::ptr::null(),
        token: std::ptr::null(),
        host_ip: std::ptr::null(),
        stun_server: std::ptr::null(),
        max_reconnects: 5,
    }
}

/// Fills the first `struct_size` bytes of `config` with NULL strings and 5
/// reconnection attempts, and sets `config->struct_size`. Hosts call it
/// through `media_server_config_default(config)`.
#[no_mangle]
pub extern "C" fn media_server_config_init(
    config: *mut media_server_config,
    struct_size: u32,
) -> media_result {
    // SAFETY: the host promises `struct_size` writable bytes at `config`.
    guard(|| unsafe { sized::init(config, struct_size, server_config_defaults()) })
}

/// A host's server config as a [`crate::signal::ServerConfig`], checked.
///
/// # Safety
/// `c` is a host config whose string fields are NULL or NUL-terminated.
pub(crate) unsafe fn server_config_from_c(
    c: &media_server_config,
) -> Result<crate::signal::ServerConfig, media_result> {
    // SAFETY: a string field of the host's config: NULL or NUL-terminated (this function's contract).
    let (url, app, user, token) = unsafe {
        (
            req_str(c.url)?,
            req_str(c.app_id)?,
            req_str(c.user_id)?,
            req_str(c.token)?,
        )
    };
    let mut cfg = crate::signal::ServerConfig::new(&url, &app, &user, &token);
    // SAFETY: a string field of the host's config: NULL or NUL-terminated (this function's contract).
    if let Some(n) = unsafe { opt_str(c.nickname)? } {
        cfg.nickname = n;
    }
    // SAFETY: a string field of the host's config: NULL or NUL-terminated (this function's contract).
    if let Some(ip) = unsafe { opt_str(c.host_ip)? } {
        cfg.network.host_ips = vec![ip.parse().map_err(|_| MEDIA_ERR_INVALID_ARGUMENT)?];
    }
    // SAFETY: a string field of the host's config: NULL or NUL-terminated (this function's contract).
    if let Some(stun) = unsafe { opt_str(c.stun_server)? } {
        cfg.network.stun_server = Some(stun.parse().map_err(|_| MEDIA_ERR_INVALID_ARGUMENT)?);
    }
    cfg.max_reconnects = c.max_reconnects;
    Ok(cfg)
}

/// Connects to the rendezvous server and registers; `MEDIA_EVENT_SERVER`
/// events follow. Replaces an earlier connection. `MEDIA_ERR_UNSUPPORTED`
/// for a URL that is not ws://.
#[no_mangle]
pub extern "C" fn media_engine_connect_server(
    engine: *mut media_engine,
    config: *const media_server_config,
) -> media_result {
    with_engine(engine, |e| {
        // SAFETY: NULL or a host struct of `struct_size` bytes.
        let c = match unsafe { sized::read(config, server_config_defaults()) } {
            Ok(c) => c,
            Err(r) => return r,
        };
        let cfg = match unsafe { server_config_from_c(&c) } {
            Ok(cfg) => cfg,
            Err(r) => return r,
        };
        done(e.connect_server(cfg))
    })
}

/// Leaves the server, ending any call. A no-op when not connected.
#[no_mangle]
pub extern "C" fn media_engine_disconnect_server(engine: *mut media_engine) -> media_result {
    with_engine(engine, |e| {
        e.disconnect_server();
        MEDIA_OK
    })
}

/// Calls `user_id` (audio only unless `video`). Writes the call id,
/// NUL-terminated, into `call_id` (`call_id_len` bytes; 128 always suffice;
/// NULL if not needed). `MEDIA_ERR_INVALID_STATE` when not registered or
/// already in a call.
#[no_mangle]
pub extern "C" fn media_engine_call(
    engine: *mut media_engine,
    user_id: *const c_char,
    video: bool,
    call_id: *mut c_char,
    call_id_len: usize,
) -> media_result {
    with_engine(engine, |e| {
        // SAFETY: NULL or a NUL-terminated string from the host.
        let to = match unsafe { req_str(user_id) } {
            Ok(s) => s,
            Err(r) => return r,
        };
        if !call_id.is_null() && call_id_len == 0 {
            return MEDIA_ERR_BUFFER_TOO_SMALL;
        }
        let id = try_ffi!(e.call(&to, video));
        if !call_id.is_null() {
            let r = write_c_string(&id, call_id, call_id_len);
            if r != MEDIA_OK {
                let _ = e.hangup();
                return r;
            }
        }
        MEDIA_OK
    })
}

pub(crate) fn with_call_id(
    engine: *mut media_engine,
    call_id: *const c_char,
    f: impl FnOnce(&Engine, &str) -> crate::Result<()>,
) -> media_result {
    // SAFETY: NULL or a NUL-terminated string from the host.
    with_engine(engine, |e| match unsafe { req_str(call_id) } {
        Ok(id) => done(f(e, &id)),
        Err(r) => r,
    })
}

/// Accepts the ringing incoming call `call_id`.
#[no_mangle]
pub extern "C" fn media_engine_accept(
    engine: *mut media_engine,
    call_id: *const c_char,
) -> media_result {
    with_call_id(engine, call_id, |e, id| e.accept(id))
}

/// Rejects the ringing incoming call `call_id`.
#[no_mangle]
pub extern "C" fn media_engine_reject(
    engine: *mut media_engine,
    call_id: *const c_char,
) -> media_result {
    with_call_id(engine, call_id, |e, id| e.reject(id))
}

/// Ends the current call (cancels it while ringing).
/// `MEDIA_ERR_INVALID_STATE` when there is none.
#[no_mangle]
pub extern "C" fn media_engine_hangup(engine: *mut media_engine) -> media_result {
    with_engine(engine, |e| done(e.hangup()))
}

/// Hands the server a new token (after `MEDIA_EVENT_TOKEN_WILL_EXPIRE`).
#[no_mangle]
pub extern "C" fn media_engine_renew_token(
    engine: *mut media_engine,
    token: *const c_char,
) -> media_result {
    with_call_id(engine, token, |e, t| e.renew_token(t))
}

/// Joins `channel` as `uid` (0: the server assigns one, reported in
/// `MEDIA_CHANNEL_JOINED`), as audience (receive only) or broadcaster.
/// Media then flows with every member where one of the two broadcasts;
/// remote frames carry the member's `uid`, and
/// `media_engine_get_remote_stats` has one entry per member. One channel at
/// a time, and not during a call (`MEDIA_ERR_INVALID_STATE`).
#[no_mangle]
pub extern "C" fn media_engine_join_channel(
    engine: *mut media_engine,
    channel: *const c_char,
    uid: u32,
    audience: bool,
) -> media_result {
    with_call_id(engine, channel, |e, ch| e.join_channel(ch, uid, audience))
}

/// Leaves `channel`.
#[no_mangle]
pub extern "C" fn media_engine_leave_channel(
    engine: *mut media_engine,
    channel: *const c_char,
) -> media_result {
    with_call_id(engine, channel, |e, ch| e.leave_channel(ch))
}
