//! `media_local_server`: the rendezvous server inside the library (feature
//! `server`), for demos and tests.

use super::*;

/// A rendezvous server running inside the library (see
/// `media_local_server_start`).
pub struct media_local_server {
    _private: [u8; 0],
}

// SAFETY: an opaque marker, only made by `into_handle` from a `LocalServer`.
#[cfg(feature = "server")]
unsafe impl Handle for media_local_server {
    type Target = crate::LocalServer;
}

/// Starts a rendezvous server inside the library for app `app_id` (tokens
/// signed with `secret`), listening on `listen` ("127.0.0.1:0" picks a free
/// port; "0.0.0.0:8080" serves the LAN). Engines connect to the URL from
/// `media_local_server_url`; browsers find the web client at the same
/// address over http. Release with `media_local_server_free`.
/// `MEDIA_ERR_UNSUPPORTED` in builds without the `server` feature;
/// `MEDIA_ERR_INVALID_ARGUMENT` for an address that does not parse or is
/// not one of this machine's; `MEDIA_ERR_INVALID_STATE` when the address
/// is taken; `MEDIA_ERR_PERMISSION_DENIED` for a privileged port.
/// `media_last_error_message` says which.
#[no_mangle]
pub extern "C" fn media_local_server_start(
    listen: *const c_char,
    app_id: *const c_char,
    secret: *const c_char,
    out: *mut *mut media_local_server,
) -> media_result {
    guard(|| {
        if out.is_null() {
            return MEDIA_ERR_NULL_ARGUMENT;
        }
        // SAFETY: checked non-NULL; the host owns the pointer slot.
        unsafe { *out = std::ptr::null_mut() };
        let (listen, app_id, secret) =
            match unsafe { (req_str(listen), req_str(app_id), req_str(secret)) } {
                (Ok(l), Ok(a), Ok(s)) => (l, a, s),
                (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
            };
        #[cfg(feature = "server")]
        {
            let server = try_ffi!(crate::LocalServer::start(&listen, &app_id, &secret));
            // SAFETY: checked non-NULL above.
            unsafe { *out = into_handle(server) };
            MEDIA_OK
        }
        #[cfg(not(feature = "server"))]
        {
            let _ = (listen, app_id, secret);
            MEDIA_ERR_UNSUPPORTED
        }
    })
}

/// Writes the server's WebSocket URL ("ws://127.0.0.1:PORT/ws"),
/// NUL-terminated, into `url` (`url_len` bytes; 64 always suffice).
#[no_mangle]
pub extern "C" fn media_local_server_url(
    server: *const media_local_server,
    url: *mut c_char,
    url_len: usize,
) -> media_result {
    guard(|| {
        #[cfg(feature = "server")]
        {
            // SAFETY: NULL or a live handle from `media_local_server_start`.
            match unsafe { borrow(server) } {
                Some(s) => write_c_string(&s.url(), url, url_len),
                None => MEDIA_ERR_NULL_ARGUMENT,
            }
        }
        #[cfg(not(feature = "server"))]
        {
            let _ = (server, url, url_len);
            MEDIA_ERR_UNSUPPORTED
        }
    })
}

/// Mints a token for `user_id` valid for `ttl_seconds` (any channel) and
/// writes it, NUL-terminated, into `token` (`token_len` bytes; 512 always
/// suffice). `MEDIA_ERR_INVALID_ARGUMENT` for what the server would refuse:
/// a user id that is not 1 to 64 of `A-Z a-z 0-9 - _ . @`, or a
/// `ttl_seconds` of 0.
#[no_mangle]
pub extern "C" fn media_local_server_token(
    server: *const media_local_server,
    user_id: *const c_char,
    ttl_seconds: u32,
    token: *mut c_char,
    token_len: usize,
) -> media_result {
    guard(|| {
        // SAFETY: NULL or a NUL-terminated string from the host.
        let user = match unsafe { req_str(user_id) } {
            Ok(u) => u,
            Err(r) => return r,
        };
        #[cfg(feature = "server")]
        {
            // SAFETY: NULL or a live handle from `media_local_server_start`.
            match unsafe { borrow(server) } {
                Some(s) => {
                    let ttl = std::time::Duration::from_secs(ttl_seconds as u64);
                    let t = try_ffi!(s.token(&user, ttl));
                    write_c_string(&t, token, token_len)
                }
                None => MEDIA_ERR_NULL_ARGUMENT,
            }
        }
        #[cfg(not(feature = "server"))]
        {
            let _ = (server, user, ttl_seconds, token, token_len);
            MEDIA_ERR_UNSUPPORTED
        }
    })
}

/// Stops the server, closing every connection. NULL is ignored.
#[no_mangle]
pub extern "C" fn media_local_server_free(server: *mut media_local_server) {
    let _ = guard(|| {
        #[cfg(feature = "server")]
        // SAFETY: NULL or a handle from `media_local_server_start`, freed once.
        unsafe {
            free_handle(server)
        };
        #[cfg(not(feature = "server"))]
        let _ = server;
        MEDIA_OK
    });
}
