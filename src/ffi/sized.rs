//! Structs that grow: every config and stats struct of the C ABI starts
//! with `uint32_t struct_size`, the `sizeof` the host was compiled with.
//! New fields only ever go at the end, so the library reads (or writes)
//! exactly the bytes a host's struct has: an older host gets defaults for
//! the fields it does not know, and never has bytes written past its
//! struct. A size below the first version's is refused.
//!
//! Each growable struct names its first version's size (`*_V1_SIZE`), which
//! tests keep equal to the offset of the first field added after it, so
//! the tail padding of an old struct is never read as a new field.

use super::{media_result, set_last_error};

/// No version of any struct will be this large: a bigger `struct_size` is
/// one the host never set.
const MAX_SIZE: usize = 64 * 1024;

/// A struct whose first field is `struct_size: u32`.
///
/// # Safety
/// Implementors are `#[repr(C)]` plain data whose first field is the
/// `u32` size, and for which any bytes a C host writes are a valid value.
pub(crate) unsafe trait Grown: Sized {
    /// The C name, for error messages.
    const NAME: &'static str;
    /// The size of the first version of the struct.
    const V1_SIZE: usize;
}

/// The host's `struct_size`, checked against the first version's.
///
/// # Safety
/// `p` is NULL or points to at least 4 readable bytes.
unsafe fn host_size<T: Grown>(p: *const T) -> Result<usize, media_result> {
    // SAFETY: NULL or the start of a host struct; only its first field.
    let Some(&size) = (unsafe { p.cast::<u32>().as_ref() }) else {
        return Err(media_result::MEDIA_ERR_NULL_ARGUMENT);
    };
    let size = size as usize;
    if size < T::V1_SIZE || size > MAX_SIZE {
        set_last_error(&format!(
            "{}.struct_size is {size}: set it to sizeof({}) (at least {})",
            T::NAME,
            T::NAME,
            T::V1_SIZE
        ));
        return Err(media_result::MEDIA_ERR_INVALID_ARGUMENT);
    }
    Ok(size)
}

/// Reads a host's struct: the bytes its `struct_size` covers, over
/// `defaults` for the rest. Fields a newer host has beyond this library's
/// struct are not read.
///
/// # Safety
/// `p` is NULL or points to a host struct of `struct_size` readable bytes.
pub(crate) unsafe fn read<T: Grown>(p: *const T, mut defaults: T) -> Result<T, media_result> {
    // SAFETY: NULL or a host struct of at least 4 bytes (this function's contract).
    let size = unsafe { host_size(p) }?;
    let n = size.min(std::mem::size_of::<T>());
    // SAFETY: the host's struct has `size` >= `n` readable bytes; `defaults`
    // is a `T` of `size_of::<T>()` >= `n` bytes; they cannot overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(p.cast::<u8>(), (&mut defaults as *mut T).cast::<u8>(), n)
    };
    Ok(defaults)
}

/// Writes `value` into a host's struct, as much of it as the host's
/// `struct_size` covers; fields a newer host has beyond this library's
/// struct are left as they were, and its `struct_size` is kept.
///
/// # Safety
/// `p` is NULL or points to a host struct of `struct_size` writable bytes.
pub(crate) unsafe fn write<T: Grown>(p: *mut T, value: T) -> Result<(), media_result> {
    // SAFETY: NULL or a host struct of at least 4 bytes (this function's contract).
    let size = unsafe { host_size(p) }?;
    let n = size.min(std::mem::size_of::<T>());
    // SAFETY: `n` bytes of `value` into the host's `size` >= `n` bytes,
    // then the host's own size back into the first field.
    unsafe {
        std::ptr::copy_nonoverlapping((&value as *const T).cast::<u8>(), p.cast::<u8>(), n);
        p.cast::<u32>().write_unaligned(size as u32);
    }
    Ok(())
}

/// Initialises a host's struct of `size` bytes with `value` (for the
/// `*_init` functions, whose caller passes `sizeof`): `struct_size` is set
/// to `size`.
///
/// # Safety
/// `p` is NULL or points to `size` writable bytes.
pub(crate) unsafe fn init<T: Grown>(p: *mut T, size: u32, value: T) -> media_result {
    if p.is_null() {
        return media_result::MEDIA_ERR_NULL_ARGUMENT;
    }
    if (size as usize) < T::V1_SIZE || size as usize > MAX_SIZE {
        set_last_error(&format!(
            "{size} bytes is no size of {} (at least {})",
            T::NAME,
            T::V1_SIZE
        ));
        return media_result::MEDIA_ERR_INVALID_ARGUMENT;
    }
    let size = size as usize;
    let n = size.min(std::mem::size_of::<T>());
    let bytes = p.cast::<u8>();
    // SAFETY: `n` bytes of `value` into the host's `size` >= `n` bytes; the
    // tail a newer host has (`n..size`) is its own memory, zeroed; the
    // first 4 bytes are the size field.
    unsafe {
        std::ptr::copy_nonoverlapping((&value as *const T).cast::<u8>(), bytes, n);
        std::ptr::write_bytes(bytes.add(n), 0, size - n);
        bytes.cast::<u32>().write_unaligned(size as u32);
    }
    media_result::MEDIA_OK
}

#[cfg(test)]
mod tests {
    use super::super::{
        media_engine_config, media_remote_stats, media_server_config, media_stats,
        media_video_codec,
    };
    use super::Grown;
    use std::mem::{align_of, offset_of, size_of};

    /// The first version of each struct ends on its alignment, so an old
    /// host's `sizeof` (tail padding included) is exactly `V1_SIZE` and the
    /// first field added later starts right there, never in padding an old
    /// host left uninitialised.
    fn ends_without_padding<T: Grown>(last_field_end: usize) {
        assert_eq!(T::V1_SIZE % align_of::<T>(), 0, "{}", T::NAME);
        assert_eq!(last_field_end, T::V1_SIZE, "{}: tail padding", T::NAME);
    }

    #[test]
    fn first_versions_have_no_tail_padding() {
        ends_without_padding::<media_engine_config>(
            offset_of!(media_engine_config, record_remote_video_file) + size_of::<usize>(),
        );
        assert_eq!(
            offset_of!(media_engine_config, audio_input_sample_rate),
            media_engine_config::V1_SIZE
        );
        ends_without_padding::<media_stats>(offset_of!(media_stats, video_latency_p95_us) + 8);
        ends_without_padding::<media_remote_stats>(offset_of!(media_remote_stats, rx_quality) + 4);
        ends_without_padding::<media_server_config>(
            offset_of!(media_server_config, stun_server) + size_of::<usize>(),
        );
        ends_without_padding::<media_video_codec>(
            offset_of!(media_video_codec, decoder_free) + size_of::<usize>(),
        );
        // Later versions end without padding too.
        assert_eq!(
            offset_of!(media_engine_config, reserved) + 4,
            size_of::<media_engine_config>()
        );
        assert_eq!(
            offset_of!(media_stats, video_sync_delay_us) + 4,
            size_of::<media_stats>()
        );
        assert_eq!(
            offset_of!(media_remote_stats, rtt_max_us) + 8,
            size_of::<media_remote_stats>()
        );
        // Every struct_size leads.
        assert_eq!(offset_of!(media_engine_config, struct_size), 0);
        assert_eq!(offset_of!(media_stats, struct_size), 0);
        assert_eq!(offset_of!(media_remote_stats, struct_size), 0);
        assert_eq!(offset_of!(media_server_config, struct_size), 0);
        assert_eq!(offset_of!(media_video_codec, struct_size), 0);
    }
}
