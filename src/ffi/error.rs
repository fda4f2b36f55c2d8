//! `KinoStatus`, the thread's last error message, and the diagnostics
//! exports (`kino_last_error_message`, `kino_status_str`, `kino_version`).

use std::cell::RefCell;
use std::ffi::c_char;

use crate::error::{Error, ErrorKind};

/// Result of every fallible kino call. Values are stable and never reused.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KinoStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullArgument = 1,
    /// A string argument was not valid UTF-8.
    InvalidUtf8 = 2,
    /// A value was not allowed: NaN, infinite or negative where a real
    /// non-negative number is required, an unknown enum value, a bad URL or
    /// header, invalid JSON, a zero capacity or timeout, and so on.
    InvalidArgument = 3,
    /// The event queue was full: the event was dropped and counted in
    /// `KinoStats.dropped`; its sequence number is left as a gap.
    QueueFull = 4,
    /// The emitter is shutting down.
    Closed = 5,
    /// The operation did not finish within its timeout.
    Timeout = 6,
    /// An operating-system operation failed (thread, file or network).
    Io = 7,
    /// The output buffer is too small; nothing was written.
    BufferTooSmall = 8,
    /// An internal error was caught at the boundary; the host keeps
    /// running. Please report it with `kino_last_error_message()`.
    Panic = 9,
}

impl From<ErrorKind> for KinoStatus {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::NullArgument => KinoStatus::NullArgument,
            ErrorKind::InvalidUtf8 => KinoStatus::InvalidUtf8,
            ErrorKind::InvalidArgument => KinoStatus::InvalidArgument,
            ErrorKind::QueueFull => KinoStatus::QueueFull,
            ErrorKind::Closed => KinoStatus::Closed,
            ErrorKind::Timeout => KinoStatus::Timeout,
            ErrorKind::Io => KinoStatus::Io,
            ErrorKind::BufferTooSmall => KinoStatus::BufferTooSmall,
        }
    }
}

thread_local! {
    /// The last failure's message on this thread, NUL-terminated. The
    /// buffer is reused, so reporting a failure does not allocate once it
    /// has grown to fit.
    static LAST_ERROR: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Stores `message` as this thread's last error.
pub(crate) fn record_message(message: &str) {
    let _ = LAST_ERROR.try_with(|cell| {
        if let Ok(mut buf) = cell.try_borrow_mut() {
            buf.clear();
            buf.extend(message.bytes().map(|b| if b == 0 { b'?' } else { b }));
            buf.push(0);
        }
    });
}

/// Stores `error` as this thread's last error and returns its status.
pub(crate) fn record_error(error: &Error) -> KinoStatus {
    record_message(&error.message);
    error.kind.into()
}

/// The message of this thread's last failed kino call, or "" if none has
/// failed on this thread. Never NULL.
///
/// The text stays valid until the next *failing* kino call on the same
/// thread; a successful call does not change it. Copy it if you need it
/// longer. Do not free it.
#[no_mangle]
pub extern "C" fn kino_last_error_message() -> *const c_char {
    super::guard(c"".as_ptr(), || {
        LAST_ERROR
            .try_with(|cell| match cell.try_borrow() {
                Ok(buf) if !buf.is_empty() => buf.as_ptr().cast::<c_char>(),
                _ => c"".as_ptr(),
            })
            .unwrap_or(c"".as_ptr())
    })
}

/// A static, NUL-terminated name for `status` (for example
/// `"KINO_STATUS_QUEUE_FULL"`); `"KINO_STATUS_UNKNOWN"` for a value that
/// is not a status. Never NULL; do not free.
#[no_mangle]
pub extern "C" fn kino_status_str(status: u32) -> *const c_char {
    let text = match status {
        0 => c"KINO_STATUS_OK",
        1 => c"KINO_STATUS_NULL_ARGUMENT",
        2 => c"KINO_STATUS_INVALID_UTF8",
        3 => c"KINO_STATUS_INVALID_ARGUMENT",
        4 => c"KINO_STATUS_QUEUE_FULL",
        5 => c"KINO_STATUS_CLOSED",
        6 => c"KINO_STATUS_TIMEOUT",
        7 => c"KINO_STATUS_IO",
        8 => c"KINO_STATUS_BUFFER_TOO_SMALL",
        9 => c"KINO_STATUS_PANIC",
        _ => c"KINO_STATUS_UNKNOWN",
    };
    text.as_ptr()
}

/// kino's version ("MAJOR.MINOR.PATCH"), static. Never NULL; do not free.
#[no_mangle]
pub extern "C" fn kino_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast::<c_char>()
}
