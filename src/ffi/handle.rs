//! Opaque handles bound to the Rust types behind them: each C handle type
//! (`media_engine`, `media_local_server`) names its Rust type once, and
//! every conversion between the two goes through these functions, so a
//! handle can never be read as the wrong type.

/// A C handle type and the Rust value a handle of it points to.
///
/// # Safety
/// Implementors are zero-sized `#[repr(C)]` opaque structs that are only
/// ever created by [`into_handle`] for their own `Target`.
pub(crate) unsafe trait Handle: Sized {
    type Target;
}

/// Moves `value` to the heap and returns it as the host's handle.
pub(crate) fn into_handle<H: Handle>(value: H::Target) -> *mut H {
    Box::into_raw(Box::new(value)).cast()
}

/// The value behind a handle, or `None` for NULL.
///
/// # Safety
/// `p` is NULL or came from [`into_handle`] for `H` and was not freed.
pub(crate) unsafe fn borrow<'a, H: Handle>(p: *const H) -> Option<&'a H::Target> {
    // SAFETY: per this function's contract, non-NULL `p` points to a live
    // `H::Target` boxed by `into_handle`.
    unsafe { p.cast::<H::Target>().as_ref() }
}

/// Drops the value behind a handle; NULL is ignored.
///
/// # Safety
/// `p` is NULL or came from [`into_handle`] for `H` and was not freed; it
/// is not used again.
pub(crate) unsafe fn free_handle<H: Handle>(p: *mut H) {
    if !p.is_null() {
        // SAFETY: per this function's contract, `p` owns a boxed `H::Target`.
        drop(unsafe { Box::from_raw(p.cast::<H::Target>()) });
    }
}
