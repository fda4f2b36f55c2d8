//! Delivery to a C batch callback, on the worker thread.

use std::ffi::{c_char, c_int, c_void};
use std::time::Instant;

use parking_lot::Mutex;

use super::{BatchSink, Body, Failure, Outcome};

/// What a batch callback returns for "not delivered now, try again later"
/// (the batch is retried with back-off, like an HTTP 503). 0 means
/// delivered; any other value means refused for good (counted as failed).
pub const RETRY_LATER: c_int = 75;

/// The C callback type: `int (*)(void *user_data, const char *json, size_t len)`.
/// Returns 0 when the batch is delivered.
pub type BatchCallbackFn =
    unsafe extern "C" fn(user_data: *mut c_void, json: *const c_char, len: usize) -> c_int;

/// A host callback and the `user_data` it is given, as configured. Each
/// emitter wraps it in its own [`CallbackSink`], whose gate it closes.
#[derive(Debug, Clone, Copy)]
pub struct CallbackSpec {
    callback: BatchCallbackFn,
    /// The host's pointer; only ever handed back to `callback`.
    user_data: usize,
}

impl CallbackSpec {
    /// Pairs `callback` with its `user_data`.
    ///
    /// # Safety
    /// `callback` must be safe to call from another thread with
    /// `user_data` until every emitter using it has been dropped.
    pub unsafe fn new(callback: BatchCallbackFn, user_data: *mut c_void) -> Self {
        CallbackSpec {
            callback,
            user_data: user_data as usize,
        }
    }
}

/// One emitter's use of a [`CallbackSpec`], behind a gate that `close`
/// shuts: once closed, the callback is never called again.
pub struct CallbackSink {
    spec: CallbackSpec,
    /// `true` while the callback may be called. Held during each call, so
    /// `close` waits for a call in progress and none starts after it.
    open: Mutex<bool>,
}

impl CallbackSink {
    /// An open sink for `spec`.
    pub fn new(spec: CallbackSpec) -> Self {
        CallbackSink {
            spec,
            open: Mutex::new(true),
        }
    }
}

impl BatchSink for CallbackSink {
    fn deliver(&self, body: &Body, _deadline: Instant) -> Outcome {
        let open = self.open.lock();
        if !*open {
            return Outcome::Closed;
        }
        let json = body.with_nul();
        // SAFETY: the host promised (CallbackSpec::new) that the callback may
        // be called with user_data until close(); the pointer is NUL-terminated
        // and valid for the duration of the call.
        let rc = unsafe {
            (self.spec.callback)(
                self.spec.user_data as *mut c_void,
                json.as_ptr().cast::<c_char>(),
                json.len() - 1,
            )
        };
        drop(open);
        if rc == 0 {
            Outcome::Delivered
        } else {
            Outcome::Failed(Failure {
                retryable: rc == RETRY_LATER,
                status: None,
                retry_after: None,
                kind: crate::stats::DeliveryError::Callback,
                reason: format!("batch callback returned {rc}"),
            })
        }
    }

    fn close(&self) {
        *self.open.lock() = false;
    }
}
