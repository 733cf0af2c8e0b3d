//! Strings across the boundary: C strings in (UTF-8, copied) and out
//! (NUL-terminated into the host's buffers, never cut silently).

use super::*;

/// Reads an optional C string. Err on invalid UTF-8.
///
/// # Safety
/// `p` is NULL or a valid NUL-terminated string.
pub(crate) unsafe fn opt_str(p: *const c_char) -> Result<Option<String>, media_result> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: checked non-NULL; the caller promises a NUL-terminated string.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map(|s| Some(s.to_owned()))
        .map_err(|_| MEDIA_ERR_INVALID_ARGUMENT)
}

/// A required C string.
pub(crate) unsafe fn req_str(p: *const c_char) -> Result<String, media_result> {
    // SAFETY: this function's own contract.
    unsafe { opt_str(p) }?.ok_or(MEDIA_ERR_NULL_ARGUMENT)
}

pub(crate) fn copy_str(s: &str, out: &mut [c_char; MEDIA_DEVICE_STRING_MAX]) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() >= MEDIA_DEVICE_STRING_MAX || bytes.contains(&0) {
        return false;
    }
    for (o, &b) in out.iter_mut().zip(bytes) {
        *o = b as c_char;
    }
    out[bytes.len()] = 0;
    true
}

/// Writes `s` NUL-terminated into `out` (`len` bytes).
pub(crate) fn write_c_string(s: &str, out: *mut c_char, len: usize) -> media_result {
    if out.is_null() {
        return MEDIA_ERR_NULL_ARGUMENT;
    }
    if s.len() + 1 > len {
        return MEDIA_ERR_BUFFER_TOO_SMALL;
    }
    // SAFETY: the host gave `len` writable bytes.
    let buf = unsafe { std::slice::from_raw_parts_mut(out.cast::<u8>(), len) };
    buf[..s.len()].copy_from_slice(s.as_bytes());
    buf[s.len()] = 0;
    MEDIA_OK
}
