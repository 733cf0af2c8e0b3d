//! Process-wide calls: the library and ABI versions, the ABI check, and
//! the log callback that hands `tracing` records to the host.

use super::*;

/// The library version, e.g. "0.1.0". Static, never NULL.
#[no_mangle]
pub extern "C" fn media_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The version of the C ABI this header describes. It grows when functions,
/// enum values or struct fields are added (added at the end of structs
/// that carry a `struct_size`), so a host built against an older header
/// keeps working with a newer library. Version 2 gave every config and
/// stats struct its `struct_size`; hosts built against version 1 headers
/// must be rebuilt.
pub const MEDIA_ABI_VERSION: u32 = 2;

/// The oldest header version this library serves; also the `N` of the
/// desktop soname `libmedia.so.N` (build.rs).
pub(crate) const OLDEST_ABI_VERSION: u32 = 2;

#[cfg(test)]
#[test]
fn the_soname_follows_the_oldest_abi_served() {
    assert_eq!(env!("MEDIA_SONAME_VERSION"), OLDEST_ABI_VERSION.to_string());
}

/// The C ABI version the library implements (`MEDIA_ABI_VERSION` of the
/// header it was built with).
#[no_mangle]
pub extern "C" fn media_abi_version() -> u32 {
    MEDIA_ABI_VERSION
}

/// Whether this library serves a host compiled against a header of ABI
/// version `host_abi_version` (pass `MEDIA_ABI_VERSION`): `MEDIA_OK` when
/// the library is as new or newer, `MEDIA_ERR_UNSUPPORTED` when the host
/// expects functions this older library lacks (or was built against a
/// header older than this library serves). Call it once at start-up.
#[no_mangle]
pub extern "C" fn media_check_abi(host_abi_version: u32) -> media_result {
    guard(|| {
        if host_abi_version == 0 {
            return MEDIA_ERR_INVALID_ARGUMENT;
        }
        if host_abi_version < OLDEST_ABI_VERSION {
            set_last_error(&format!(
                "the host was built for ABI {host_abi_version}, whose structs had no struct_size: rebuild it against this library's media.h (ABI {MEDIA_ABI_VERSION})"
            ));
            return MEDIA_ERR_UNSUPPORTED;
        }
        if host_abi_version > MEDIA_ABI_VERSION {
            set_last_error(&format!(
                "the host was built for ABI {host_abi_version}, this library implements {MEDIA_ABI_VERSION}: update libmedia"
            ));
            return MEDIA_ERR_UNSUPPORTED;
        }
        MEDIA_OK
    })
}

/// `media_set_log_callback` levels, most severe first.
#[repr(C)]
pub enum media_log_level {
    MEDIA_LOG_ERROR = 1,
    MEDIA_LOG_WARN = 2,
    MEDIA_LOG_INFO = 3,
    MEDIA_LOG_DEBUG = 4,
    MEDIA_LOG_TRACE = 5,
}

/// Receives one log record: a `media_log_level`, the module it comes from
/// ("media::transport::webrtc") and its text, both NUL-terminated and
/// valid only during the call. Called on whichever library thread logged,
/// possibly several at once.
pub type media_log_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: u32,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// The host's userdata for a callback that may run on several threads at
/// once; the host promises that is fine.
pub(crate) struct SharedUserData(*mut c_void);
// SAFETY: the host promises its userdata may be used from any library thread, concurrently (`media_set_log_callback` documents it).
unsafe impl Send for SharedUserData {}
unsafe impl Sync for SharedUserData {}

/// Sends the library's log records up to `max_level` (a `media_log_level`:
/// `MEDIA_LOG_INFO` gives errors, warnings and information) to `callback`
/// (forward them to logcat, os_log or your own log); NULL stops them.
/// Process-wide, for every engine. `MEDIA_ERR_INVALID_STATE` when the
/// process already has a Rust `tracing` subscriber of its own.
#[no_mangle]
pub extern "C" fn media_set_log_callback(
    max_level: u32,
    callback: media_log_callback,
    userdata: *mut c_void,
) -> media_result {
    guard(|| {
        use crate::log::LogLevel;
        let max = match max_level {
            1 => LogLevel::Error,
            2 => LogLevel::Warn,
            3 => LogLevel::Info,
            4 => LogLevel::Debug,
            5 => LogLevel::Trace,
            _ => return MEDIA_ERR_INVALID_ARGUMENT,
        };
        let handler = callback.map(|cb| {
            let ud = SharedUserData(userdata);
            Box::new(move |level: LogLevel, target: &str, text: &str| {
                let c = |s: &str| std::ffi::CString::new(s.replace('\0', " ")).unwrap_or_default();
                let (target, text) = (c(target), c(text));
                let ud = &ud;
                // SAFETY: the host's callback with its own userdata and two
                // strings valid for the call; a panic cannot unwind out of
                // an extern "C" fn.
                unsafe { cb(ud.0, level as u32, target.as_ptr(), text.as_ptr()) };
            }) as crate::log::LogHandler
        });
        done(crate::log::set_log_handler(max, handler))
    })
}
