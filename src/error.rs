//! The one error type of the library: a kind that says what went wrong (and
//! whether retrying can help) plus a human-readable message. The C ABI
//! flattens the kind into `media_result`.

use std::fmt;

/// What kind of failure an [`Error`] is.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// An argument was out of range or malformed. Retrying the same call fails again.
    InvalidArgument,
    /// The call does not fit the current state (e.g. no stream is running).
    InvalidState,
    /// The named device, file or id does not exist.
    NotFound,
    /// No device of the requested kind exists at all (e.g. no camera).
    NoDevice,
    /// The device exists but could not be opened or vanished while running.
    /// Retrying later may help.
    DeviceUnavailable,
    /// The operating system refused access to the device.
    PermissionDenied,
    /// An encoder or decoder failed.
    Codec,
    /// Reading or writing a file failed.
    Io,
    /// The request is valid but not supported by this build or backend.
    Unsupported,
    /// The media connection to a peer could not be made or was lost for
    /// good. A new call (or a rejoin) may succeed.
    Network,
    /// A bug inside the library. Please report it.
    Internal,
}

/// The library's error: a [`ErrorKind`] and a message for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    /// A new error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidState, message)
    }

    pub(crate) fn codec(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Codec, message)
    }

    pub(crate) fn io(context: &str, err: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Io, format!("{context}: {err}"))
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The text of a panic's payload (what a thread that caught one reports).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
