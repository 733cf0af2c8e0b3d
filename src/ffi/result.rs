//! Results and the panic boundary: the `media_result` codes and their
//! messages, the mapping from the library's errors, the calling thread's
//! last error detail, and `guard`, which every exported function runs in
//! so that no panic crosses into the host.

use super::*;

use media_result::*;

/// Result of every fallible call. `MEDIA_OK` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum media_result {
    MEDIA_OK = 0,
    /// A required pointer argument was NULL.
    MEDIA_ERR_NULL_ARGUMENT = 1,
    /// An argument was out of range, not UTF-8, or an unknown enum value.
    MEDIA_ERR_INVALID_ARGUMENT = 2,
    /// The call does not fit the engine's current state.
    MEDIA_ERR_INVALID_STATE = 3,
    /// The device id, index or file does not exist.
    MEDIA_ERR_NOT_FOUND = 4,
    /// No device of that kind exists on this system (e.g. no camera).
    MEDIA_ERR_NO_DEVICE = 5,
    /// The device exists but could not be opened, or vanished. Retry later.
    MEDIA_ERR_DEVICE_UNAVAILABLE = 6,
    /// The system refused access to the microphone or camera.
    MEDIA_ERR_PERMISSION_DENIED = 7,
    /// An encoder or decoder failed.
    MEDIA_ERR_CODEC = 8,
    /// Reading or writing a file failed.
    MEDIA_ERR_IO = 9,
    /// Valid, but not supported by this build or device.
    MEDIA_ERR_UNSUPPORTED = 10,
    /// An output buffer was too small.
    MEDIA_ERR_BUFFER_TOO_SMALL = 11,
    /// A bug inside libmedia was caught at the API boundary.
    MEDIA_ERR_PANIC = 12,
    /// Any other internal failure.
    MEDIA_ERR_INTERNAL = 13,
    /// The callee is in another call (a `MEDIA_CALL_ENDED` event's `error`).
    MEDIA_ERR_BUSY = 14,
    /// The callee is not connected to the server.
    MEDIA_ERR_PEER_OFFLINE = 15,
    /// Taken: the channel is full, the uid is in use, the user signed in
    /// elsewhere, or the server is full (see the event's `code`).
    MEDIA_ERR_OCCUPIED = 16,
    /// The token is expired, forged, for another scope, or the app is unknown.
    MEDIA_ERR_BAD_TOKEN = 17,
    /// The server could not be reached (after the reconnection attempts).
    MEDIA_ERR_SERVER_UNREACHABLE = 18,
    /// The media connection to a peer could not be made or was lost for
    /// good (a call then ends with `MEDIA_CALL_END_MEDIA_FAILED`).
    MEDIA_ERR_NETWORK = 19,
}

/// The result code for a server error code (`media_event.code`).
pub(crate) fn server_code_result(code: &str) -> media_result {
    match code {
        "token_expired" | "token_invalid" | "token_wrong_scope" | "unknown_app" => {
            MEDIA_ERR_BAD_TOKEN
        }
        "busy" => MEDIA_ERR_BUSY,
        "offline" | "unknown_user" => MEDIA_ERR_PEER_OFFLINE,
        "channel_full" | "uid_in_use" | "replaced" | "server_full" | "too_many_channels" => {
            MEDIA_ERR_OCCUPIED
        }
        "unreachable" => MEDIA_ERR_SERVER_UNREACHABLE,
        "invalid_state" | "not_in_channel" | "unknown_call" | "not_registered" => {
            MEDIA_ERR_INVALID_STATE
        }
        "bad_message" => MEDIA_ERR_INVALID_ARGUMENT,
        _ => MEDIA_ERR_INTERNAL,
    }
}

impl From<ErrorKind> for media_result {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => MEDIA_ERR_INVALID_ARGUMENT,
            ErrorKind::InvalidState => MEDIA_ERR_INVALID_STATE,
            ErrorKind::NotFound => MEDIA_ERR_NOT_FOUND,
            ErrorKind::NoDevice => MEDIA_ERR_NO_DEVICE,
            ErrorKind::DeviceUnavailable => MEDIA_ERR_DEVICE_UNAVAILABLE,
            ErrorKind::PermissionDenied => MEDIA_ERR_PERMISSION_DENIED,
            ErrorKind::Codec => MEDIA_ERR_CODEC,
            ErrorKind::Io => MEDIA_ERR_IO,
            ErrorKind::Unsupported => MEDIA_ERR_UNSUPPORTED,
            ErrorKind::Network => MEDIA_ERR_NETWORK,
            _ => MEDIA_ERR_INTERNAL,
        }
    }
}

impl From<crate::Error> for media_result {
    fn from(e: crate::Error) -> Self {
        e.kind().into()
    }
}

/// A static, NUL-terminated description of `result` (a `media_result`
/// value; unknown values are described as such). Never NULL.
#[no_mangle]
pub extern "C" fn media_result_str(result: u32) -> *const c_char {
    const ALL: [media_result; 20] = [
        MEDIA_OK,
        MEDIA_ERR_NULL_ARGUMENT,
        MEDIA_ERR_INVALID_ARGUMENT,
        MEDIA_ERR_INVALID_STATE,
        MEDIA_ERR_NOT_FOUND,
        MEDIA_ERR_NO_DEVICE,
        MEDIA_ERR_DEVICE_UNAVAILABLE,
        MEDIA_ERR_PERMISSION_DENIED,
        MEDIA_ERR_CODEC,
        MEDIA_ERR_IO,
        MEDIA_ERR_UNSUPPORTED,
        MEDIA_ERR_BUFFER_TOO_SMALL,
        MEDIA_ERR_PANIC,
        MEDIA_ERR_INTERNAL,
        MEDIA_ERR_BUSY,
        MEDIA_ERR_PEER_OFFLINE,
        MEDIA_ERR_OCCUPIED,
        MEDIA_ERR_BAD_TOKEN,
        MEDIA_ERR_SERVER_UNREACHABLE,
        MEDIA_ERR_NETWORK,
    ];
    let Some(&known) = ALL.iter().find(|&&r| r as u32 == result) else {
        return c"unknown media_result".as_ptr();
    };
    let s: &'static CStr = match known {
        MEDIA_OK => c"ok",
        MEDIA_ERR_NULL_ARGUMENT => c"a required pointer argument was NULL",
        MEDIA_ERR_INVALID_ARGUMENT => c"invalid argument",
        MEDIA_ERR_INVALID_STATE => c"not allowed in the current state",
        MEDIA_ERR_NOT_FOUND => c"no such device, index or file",
        MEDIA_ERR_NO_DEVICE => c"no device of this kind on this system",
        MEDIA_ERR_DEVICE_UNAVAILABLE => c"device unavailable or disconnected",
        MEDIA_ERR_PERMISSION_DENIED => c"permission to use the device was denied",
        MEDIA_ERR_CODEC => c"codec failure",
        MEDIA_ERR_IO => c"file read or write failed",
        MEDIA_ERR_UNSUPPORTED => c"not supported",
        MEDIA_ERR_BUFFER_TOO_SMALL => c"buffer too small",
        MEDIA_ERR_PANIC => c"internal error (caught panic)",
        MEDIA_ERR_BUSY => c"the callee is busy in another call",
        MEDIA_ERR_PEER_OFFLINE => c"the callee is offline",
        MEDIA_ERR_OCCUPIED => {
            c"occupied: channel full, uid in use, signed in elsewhere or server full"
        }
        MEDIA_ERR_BAD_TOKEN => c"token expired, invalid or for another scope",
        MEDIA_ERR_SERVER_UNREACHABLE => c"the server could not be reached",
        MEDIA_ERR_NETWORK => c"the media connection to the peer failed",
        MEDIA_ERR_INTERNAL => c"internal error",
    };
    s.as_ptr()
}

thread_local! {
    /// What went wrong in the last call this thread made (empty after a
    /// success); read with `media_last_error_message`.
    static LAST_ERROR: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Records `message` as the detail of the current call's failure.
pub(crate) fn set_last_error(message: &str) {
    LAST_ERROR.with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            e.clear();
            e.push_str(message);
        }
    });
}

/// Turns a library error into its result code, keeping its message for
/// `media_last_error_message`.
pub(crate) fn fail(e: crate::Error) -> media_result {
    set_last_error(e.message());
    e.into()
}

/// Runs `f`, turning a panic into `MEDIA_ERR_PANIC`, and keeps the detail
/// of a failure for `media_last_error_message` (the code's description
/// when `f` left none).
pub(crate) fn guard(f: impl FnOnce() -> media_result) -> media_result {
    LAST_ERROR.with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            e.clear();
        }
    });
    let result = catch_unwind(AssertUnwindSafe(f)).unwrap_or(MEDIA_ERR_PANIC);
    if result != MEDIA_OK {
        let empty = LAST_ERROR.with(|e| e.try_borrow().map(|e| e.is_empty()).unwrap_or(false));
        if empty {
            // SAFETY: media_result_str returns a static NUL-terminated string.
            let s = unsafe { CStr::from_ptr(media_result_str(result as u32)) };
            set_last_error(&s.to_string_lossy());
        }
    }
    result
}

/// Writes the detail of the last failed call made on this thread (for
/// example "listen address 10.1.2.3:80 is not an address of this
/// machine"), NUL-terminated, into `buf` (`len` bytes; longer messages are
/// cut at a character boundary). An empty string when the thread's last
/// call succeeded. Returns the message's full length in bytes, without the
/// NUL (also when `buf` is NULL or `len` is 0: nothing is written then),
/// so a host can size its buffer.
#[no_mangle]
pub extern "C" fn media_last_error_message(buf: *mut c_char, len: usize) -> usize {
    catch_unwind(AssertUnwindSafe(|| {
        LAST_ERROR.with(|e| {
            let Ok(e) = e.try_borrow() else { return 0 };
            if buf.is_null() || len == 0 {
                return e.len();
            }
            let mut n = e.len().min(len - 1);
            while !e.is_char_boundary(n) {
                n -= 1;
            }
            // SAFETY: the host gave `len` writable bytes at `buf`; n < len.
            let out = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
            out[..n].copy_from_slice(&e.as_bytes()[..n]);
            out[n] = 0;
            e.len()
        })
    }))
    .unwrap_or(0)
}

/// A failure `try_ffi!` can return: a library error (its message is
/// kept for `media_last_error_message`) or a bare result code.
pub(crate) trait Failure {
    fn into_result(self) -> media_result;
}

impl Failure for crate::Error {
    fn into_result(self) -> media_result {
        fail(self)
    }
}

impl Failure for media_result {
    fn into_result(self) -> media_result {
        self
    }
}

macro_rules! try_ffi {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return Failure::into_result(e),
        }
    };
}

pub(crate) fn done(r: crate::Result<()>) -> media_result {
    match r {
        Ok(()) => MEDIA_OK,
        Err(e) => fail(e),
    }
}
