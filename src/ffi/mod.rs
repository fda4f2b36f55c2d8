//! The C ABI, and nothing else: every `kino_*` export lives under this
//! module. Each export converts and checks its arguments, calls the safe
//! core, and turns the result into a [`KinoStatus`] — inside a panic
//! boundary ([`guard`]), so no Rust panic ever unwinds into C.
//!
//! Conventions (as in rustls-ffi):
//! - every pointer may be NULL: a NULL required pointer is
//!   `KINO_STATUS_NULL_ARGUMENT`, and `_free(NULL)` is a no-op;
//! - out-parameters are written only on success;
//! - a `const` first parameter means the call does not change the object;
//! - enum values from C arrive as `uint32_t` and are range-checked before
//!   they become Rust enums;
//! - on failure, `kino_last_error_message()` says why, on the same thread.

#![allow(clippy::not_unsafe_ptr_arg_deref)]

pub mod config;
pub mod context;
pub mod emit;
pub mod emitter;
pub mod error;
pub mod qoe;

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorKind};
use error::record_error;
pub use error::KinoStatus;

/// Runs `body` behind a panic boundary. A panic becomes `on_panic` and the
/// thread's last error says an internal error was caught.
pub(crate) fn guard<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            error::record_message(&format!("internal error caught at the C boundary: {what}"));
            on_panic
        }
    }
}

/// [`guard`] for calls that return a status: `Ok` is `KINO_STATUS_OK`, an
/// error is recorded as the thread's last error and mapped to its status.
pub(crate) fn guard_status(body: impl FnOnce() -> Result<(), Error>) -> KinoStatus {
    guard(KinoStatus::Panic, || match body() {
        Ok(()) => KinoStatus::Ok,
        Err(e) => record_error(&e),
    })
}

/// `NULL_ARGUMENT` naming the parameter.
pub(crate) fn null(what: &'static str) -> Error {
    Error::new(ErrorKind::NullArgument, format!("{what} is NULL"))
}

/// A shared reference to `*ptr`, or `NULL_ARGUMENT`.
///
/// The C caller guarantees a non-NULL pointer came from the matching
/// `_new` and has not been freed.
pub(crate) fn deref<'a, T>(ptr: *const T, what: &'static str) -> Result<&'a T, Error> {
    // SAFETY: non-NULL pointers are live handles by the API's contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| null(what))
}

/// An exclusive reference to `*ptr`, or `NULL_ARGUMENT`.
pub(crate) fn deref_mut<'a, T>(ptr: *mut T, what: &'static str) -> Result<&'a mut T, Error> {
    // SAFETY: as `deref`; the C caller does not share mutable handles
    // across threads (documented per type).
    unsafe { ptr.as_mut() }.ok_or_else(|| null(what))
}

/// Borrows a NUL-terminated C string as UTF-8 text.
pub(crate) fn text<'a>(ptr: *const c_char, what: &'static str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(null(what));
    }
    // SAFETY: non-NULL, and the caller promises NUL termination.
    let cstr = unsafe { CStr::from_ptr(ptr) };
    cstr.to_str().map_err(|e| {
        Error::new(
            ErrorKind::InvalidUtf8,
            format!(
                "{what} is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Like [`text`], but NULL is `None`.
pub(crate) fn optional_text<'a>(
    ptr: *const c_char,
    what: &'static str,
) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        Ok(None)
    } else {
        text(ptr, what).map(Some)
    }
}

/// Copies `text` and a NUL into the caller's buffer, the way every kino
/// call that returns text does: `*needed` (when `needed` is not NULL)
/// receives the size the text needs, NUL included, on success and on
/// `BUFFER_TOO_SMALL` — so `buf = NULL, len = 0` asks for the size.
/// `what` names the text in the error message.
pub(crate) fn copy_out(
    text: &str,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
    what: &str,
) -> Result<(), Error> {
    let size = text.len() + 1;
    if !needed.is_null() {
        write_out(needed, size);
    }
    if len < size {
        return Err(Error::new(
            ErrorKind::BufferTooSmall,
            format!("{what} needs {size} bytes, buffer has {len}"),
        ));
    }
    if buf.is_null() {
        return Err(null("buf"));
    }
    // SAFETY: buf is non-NULL and holds `len` >= size bytes (the caller's
    // promise); kino's texts hold no NUL inside.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        buf.add(text.len()).write(0);
    }
    Ok(())
}

/// Writes `value` through an out-pointer already checked non-NULL.
pub(crate) fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: callers check `out` for NULL first; C owns the memory and
    // it is valid for a write of T by the API's contract.
    unsafe { out.write(value) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn a_panic_becomes_the_panic_status_and_a_message() {
        let status = guard_status(|| panic!("boom in a test"));
        assert_eq!(status, KinoStatus::Panic);
        let msg = unsafe { CStr::from_ptr(error::kino_last_error_message()) };
        let msg = msg.to_str().unwrap();
        assert!(
            msg.contains("internal error") && msg.contains("boom in a test"),
            "{msg}"
        );
        let value = guard(7u32, || panic!("again"));
        assert_eq!(value, 7, "non-status exports return their default");
    }

    #[test]
    fn errors_map_to_their_status_and_message() {
        let status = guard_status(|| Err(Error::invalid("bad thing")));
        assert_eq!(status, KinoStatus::InvalidArgument);
        let msg = unsafe { CStr::from_ptr(error::kino_last_error_message()) };
        assert_eq!(msg.to_str().unwrap(), "bad thing");
        assert_eq!(guard_status(|| Ok(())), KinoStatus::Ok);
        let msg = unsafe { CStr::from_ptr(error::kino_last_error_message()) };
        assert_eq!(msg.to_str().unwrap(), "bad thing", "success leaves it");
    }
}
