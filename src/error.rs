//! The core's error type: a kind (which the C layer maps one-to-one onto
//! `KinoStatus`) and a human-readable message.
//!
//! Messages on the hot path (a full queue) are `&'static str`, so reporting
//! them never allocates.

use std::borrow::Cow;
use std::fmt;

/// What went wrong, in the categories a C caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A required pointer was NULL (only the C layer produces this).
    NullArgument,
    /// Text was not valid UTF-8.
    InvalidUtf8,
    /// A value was out of range, malformed, or not allowed here.
    InvalidArgument,
    /// The event queue was full; the event was dropped and counted.
    QueueFull,
    /// The emitter is shutting down.
    Closed,
    /// The operation did not complete in the time allowed.
    Timeout,
    /// An I/O operation failed.
    Io,
    /// A caller-supplied buffer was too small.
    BufferTooSmall,
}

/// An error with the message `kino_last_error_message()` will show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The category.
    pub kind: ErrorKind,
    /// What happened, for a human.
    pub message: Cow<'static, str>,
}

impl Error {
    /// An error with a fixed message (does not allocate).
    pub const fn fixed(kind: ErrorKind, message: &'static str) -> Self {
        Error {
            kind,
            message: Cow::Borrowed(message),
        }
    }

    /// An error with a formatted message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: Cow::Owned(message.into()),
        }
    }

    /// `InvalidArgument` with the given message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand for results in the core.
pub type Result<T> = std::result::Result<T, Error>;
