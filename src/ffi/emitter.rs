//! `KinoEmitter`: lifecycle, flush, stats, QoE and session id.

use std::ffi::c_char;
use std::time::Duration;

use super::config::KinoConfig;
use super::error::record_message;
use super::qoe::KinoQoeBreakdown;
use super::{copy_out, deref, guard, guard_status, null, write_out, KinoStatus};
use crate::config::Config;
use crate::emitter::Emitter;
use crate::error::{Error, ErrorKind};

/// One player instance's analytics pipe, with its own background thread.
/// Thread-safe: every `kino_emit_*`, `kino_emitter_flush`,
/// `kino_emitter_stats`, `kino_emitter_qoe` and `kino_emitter_session_id`
/// may be called from any thread, concurrently. `kino_emitter_free` must be
/// the last call on it, once no other thread is using it.
///
/// Methods: `kino_emitter_new`, `kino_emitter_free`, `kino_emitter_flush`,
/// `kino_emitter_session_id`, `kino_emitter_stats`, `kino_emitter_qoe`,
/// `kino_emitter_export_p1203`, `kino_emitter_last_delivery_error`, the
/// `kino_emit_*` events, and the context calls:
/// `kino_emitter_set_metadata`, `kino_emitter_set_view_metadata`,
/// `kino_emitter_sampled`, `kino_emitter_set_consent`,
/// `kino_emitter_pending_events`, `kino_emitter_clear`,
/// `kino_emitter_cmcd`.
pub struct KinoEmitter(pub(crate) Emitter);

/// Delivery counters of one emitter (events unless said otherwise).
///
/// Every field is counted on its own, none is derived from the others, so
/// `emitted == delivered + failed + queued` is a check: it holds exactly
/// once `kino_emitter_flush` has returned OK and no call is running (while
/// events move, two fields may be read a moment apart).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KinoStats {
    /// Records accepted (calls that returned OK, plus records kino makes
    /// itself), counted when accepted.
    pub emitted: u64,
    /// Calls that returned `KINO_STATUS_QUEUE_FULL`. Gaps in the records'
    /// sequence numbers add up to this.
    pub dropped: u64,
    /// Accepted events the collector (2xx) or the callback (0) took.
    pub delivered: u64,
    /// Accepted events given up on (refused, evicted from the spool, lost,
    /// or no destination configured).
    pub failed: u64,
    /// Accepted events not yet delivered or failed: those in memory plus
    /// `spooled`.
    pub queued: u64,
    /// Batches delivered.
    pub batches: u64,
    /// Delivery attempts after the first, per attempt.
    pub retries: u64,
    /// This emitter's events on disk now (part of `queued`).
    pub spooled: u64,
    /// Events evicted from the spool by its size or age bound; this
    /// emitter's own evicted events also count in `failed`.
    pub evicted: u64,
    /// Events left in the spool by an earlier run (or a freed emitter) and
    /// delivered by this one; not part of `emitted` or `delivered`.
    pub resent: u64,
    /// Corrupt, truncated or foreign files seen in the spool directory
    /// (files, not events); they are skipped, never sent.
    pub spool_corrupt: u64,
    /// The last HTTP status the collector answered (0: none yet).
    pub last_http_status: u64,
    /// When a batch was last delivered, milliseconds since the Unix epoch
    /// (0: never).
    pub last_success_unix_ms: u64,
    /// Spool operations that failed (a batch not written: disk full, the
    /// directory removed or read-only; or the spool could not be opened).
    /// Those batches were kept and sent from memory: nothing is lost for it.
    pub spool_errors: u64,
    /// Internal errors caught in kino's worker (bugs); it carried on, and
    /// a batch being delivered at that moment was counted as failed.
    pub internal_errors: u64,
    /// Why the last failure happened: a `KinoDeliveryError` value
    /// (`KINO_DELIVERY_ERROR_NONE` if nothing failed yet). The message is
    /// `kino_emitter_last_delivery_error()`.
    pub last_error: u64,
    /// Valid `kino_emit_*` calls not collected because the session is
    /// sampled out (`kino_config_set_sample_rate`) or consent is withdrawn
    /// (`kino_emitter_set_consent`). Not part of `emitted`.
    pub suppressed: u64,
    /// Accepted records discarded by `kino_emitter_clear` or a consent
    /// withdrawal; also counted in `failed`.
    pub discarded: u64,
}

/// What kind of failure `KinoStats.last_error` reports. Values are stable
/// and never reused.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KinoDeliveryError {
    /// Nothing has failed yet.
    None = 0,
    /// The network: no connection, a reset, a timeout, a reply that is not
    /// HTTP. Retried with back-off.
    Network = 1,
    /// The collector answered a non-2xx status (`KinoStats.last_http_status`).
    HttpStatus = 2,
    /// TLS: the collector's certificate or the handshake was refused.
    Tls = 3,
    /// The batch callback returned non-zero.
    Callback = 4,
    /// The spool directory could not be used (full, removed, read-only,
    /// no permission): batches are kept and sent from memory.
    Spool = 5,
    /// No beacon URL and no batch callback: events are counted as failed.
    NoDestination = 6,
    /// An internal error was caught in kino's worker (a bug: please report).
    Internal = 7,
    /// A record was larger than the body limit on its own (counted failed).
    TooLarge = 8,
    /// The collector took a batch but rejected some of its records for
    /// good (an OTLP `partialSuccess`): those count in `failed`.
    Rejected = 9,
}

const _: () = {
    use crate::stats::DeliveryError as D;
    assert!(KinoDeliveryError::None as u32 == D::None as u32);
    assert!(KinoDeliveryError::Network as u32 == D::Network as u32);
    assert!(KinoDeliveryError::HttpStatus as u32 == D::HttpStatus as u32);
    assert!(KinoDeliveryError::Tls as u32 == D::Tls as u32);
    assert!(KinoDeliveryError::Callback as u32 == D::Callback as u32);
    assert!(KinoDeliveryError::Spool as u32 == D::Spool as u32);
    assert!(KinoDeliveryError::NoDestination as u32 == D::NoDestination as u32);
    assert!(KinoDeliveryError::Internal as u32 == D::Internal as u32);
    assert!(KinoDeliveryError::TooLarge as u32 == D::TooLarge as u32);
    assert!(KinoDeliveryError::Rejected as u32 == D::Rejected as u32);
};

/// Creates an emitter from `config` (NULL means the defaults, including
/// `KINO_BEACON_URL`) and starts its background thread. On success writes
/// the new emitter to `*out`; the caller owns it and frees it with
/// `kino_emitter_free()`. The config is only read: it stays the caller's.
///
/// Errors: `NULL_ARGUMENT` (out), `IO` (the thread could not be started).
#[no_mangle]
pub extern "C" fn kino_emitter_new(
    config: *const KinoConfig,
    out: *mut *mut KinoEmitter,
) -> KinoStatus {
    guard_status(|| {
        if out.is_null() {
            return Err(null("out"));
        }
        let emitter = if config.is_null() {
            Emitter::new(&Config::from_env())?
        } else {
            Emitter::new(&deref(config, "config")?.0)?
        };
        write_out(out, Box::into_raw(Box::new(KinoEmitter(emitter))));
        Ok(())
    })
}

/// Waits until every event emitted before this call has been dealt with —
/// delivered, or counted as failed or dropped — or `timeout_ms` passes.
///
/// Errors: `NULL_ARGUMENT`, `TIMEOUT`, `INVALID_ARGUMENT` (called from the
/// batch callback, where waiting would deadlock).
#[no_mangle]
pub extern "C" fn kino_emitter_flush(emitter: *mut KinoEmitter, timeout_ms: u32) -> KinoStatus {
    guard_status(|| {
        let emitter = deref(emitter, "emitter")?;
        emitter
            .0
            .flush(Duration::from_millis(u64::from(timeout_ms)))
    })
}

/// Delivers what is queued within the shutdown timeout, stops the
/// background thread and frees the emitter. Returns within the shutdown
/// timeout plus 250 ms even if the collector never answers (with a spool,
/// what could not be sent is written to it); afterwards kino never calls
/// the batch callback or touches its `user_data` again. A batch callback
/// already running when the timeout passes is waited for, so keep
/// callbacks short. NULL is a no-op. Must not be called from the batch
/// callback.
#[no_mangle]
pub extern "C" fn kino_emitter_free(emitter: *mut KinoEmitter) {
    guard((), || {
        // SAFETY: non-NULL emitters come from kino_emitter_new and are
        // freed once, with no other thread using them (API contract).
        let Some(live) = (unsafe { emitter.as_ref() }) else {
            return;
        };
        if live.0.on_worker_thread() {
            // Freeing would wait for the very callback that is running.
            record_message(
                "kino_emitter_free called from the emitter's own batch callback: refused \
                 (the emitter stays alive; free it from another thread once the callback has returned)",
            );
            return;
        }
        // SAFETY: as above; this is the one free of this emitter.
        drop(unsafe { Box::from_raw(emitter) });
    })
}

/// Writes the session id (a UUID, 36 characters plus NUL) into `buf`.
///
/// Errors: `NULL_ARGUMENT`, `BUFFER_TOO_SMALL` (`len` < 37; nothing
/// written).
#[no_mangle]
pub extern "C" fn kino_emitter_session_id(
    emitter: *const KinoEmitter,
    buf: *mut c_char,
    len: usize,
) -> KinoStatus {
    guard_status(|| {
        let emitter = deref(emitter, "emitter")?;
        if buf.is_null() {
            return Err(null("buf"));
        }
        let id = emitter.0.session_id().to_string();
        if len < id.len() + 1 {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!("session id needs {} bytes, buffer has {len}", id.len() + 1),
            ));
        }
        // SAFETY: buf is non-NULL and the caller says it holds `len` bytes,
        // which we checked is enough for the id and its NUL.
        unsafe {
            std::ptr::copy_nonoverlapping(id.as_ptr(), buf.cast::<u8>(), id.len());
            buf.add(id.len()).write(0);
        }
        Ok(())
    })
}

/// Copies the delivery counters into `*out`.
///
/// Errors: `NULL_ARGUMENT`.
#[no_mangle]
pub extern "C" fn kino_emitter_stats(
    emitter: *const KinoEmitter,
    out: *mut KinoStats,
) -> KinoStatus {
    guard_status(|| {
        let emitter = deref(emitter, "emitter")?;
        if out.is_null() {
            return Err(null("out"));
        }
        let s = emitter.0.stats();
        write_out(
            out,
            KinoStats {
                emitted: s.emitted,
                dropped: s.dropped,
                delivered: s.delivered,
                failed: s.failed,
                queued: s.queued,
                batches: s.batches,
                retries: s.retries,
                spooled: s.spooled,
                evicted: s.evicted,
                resent: s.resent,
                spool_corrupt: s.spool_corrupt,
                last_http_status: s.last_http_status,
                last_success_unix_ms: s.last_success_unix_ms,
                spool_errors: s.spool_errors,
                internal_errors: s.internal_errors,
                last_error: s.last_error,
                suppressed: s.suppressed,
                discarded: s.discarded,
            },
        );
        Ok(())
    })
}

/// QoE figures of the open view (from its `load` until now), else of the
/// last closed view, else all zeros, derived from every event emitted
/// before this call. A figure that does not apply (for example the startup
/// time of a view that never started) is NaN. The same figures travel to
/// the collector in a `qoe` record when each view closes.
///
/// Errors: `NULL_ARGUMENT`.
#[no_mangle]
pub extern "C" fn kino_emitter_qoe(
    emitter: *const KinoEmitter,
    out: *mut KinoQoeBreakdown,
) -> KinoStatus {
    guard_status(|| {
        let emitter = deref(emitter, "emitter")?;
        if out.is_null() {
            return Err(null("out"));
        }
        let figures = emitter.0.qoe();
        write_out(
            out,
            figures
                .as_ref()
                .map_or_else(KinoQoeBreakdown::from_zero, KinoQoeBreakdown::from_view),
        );
        Ok(())
    })
}

/// Writes the open view (else the last closed one) as the input JSON of
/// the ITU-T P.1203 model into `buf`, NUL-terminated: `I13` video segments
/// from the playing intervals at each bitrate and resolution (codec
/// `h264`, frame rate `fps`), `I23` stalls as `[position, duration]` with
/// the initial buffering as a stall at 0, a default `I11` audio track and
/// `IGen`. See docs/EVENTS.md for the details.
///
/// `*needed` (if `needed` is not NULL) receives the size the text needs,
/// NUL included, on success and on `BUFFER_TOO_SMALL` — so a call with
/// `buf = NULL, len = 0` asks for the size.
///
/// Errors: `NULL_ARGUMENT` (emitter; or buf with `len` > 0),
/// `INVALID_ARGUMENT` (`fps` not finite and positive, or no view has been
/// loaded yet), `BUFFER_TOO_SMALL` (nothing written to `buf`).
#[no_mangle]
pub extern "C" fn kino_emitter_export_p1203(
    emitter: *const KinoEmitter,
    fps: f64,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> KinoStatus {
    guard_status(|| {
        let emitter = deref(emitter, "emitter")?;
        if !(fps.is_finite() && fps > 0.0) {
            return Err(Error::invalid(format!(
                "fps must be a finite number above 0 (got {fps})"
            )));
        }
        let json = emitter.0.p1203_json(fps).ok_or_else(|| {
            Error::invalid("no view to export: kino_emit_load has not been called yet")
        })?;
        copy_out(&json, buf, len, needed, "the P.1203 JSON")?;
        Ok(())
    })
}

/// Writes the message of the last delivery failure (what
/// `KinoStats.last_error` stands for, e.g. "collector answered HTTP 503"
/// or a spool write error naming its path) into `buf`, NUL-terminated;
/// "" if nothing has failed. `*needed` (if not NULL) receives the size the
/// text needs, NUL included, on success and on `BUFFER_TOO_SMALL`.
///
/// Errors: `NULL_ARGUMENT` (emitter; or buf with `len` big enough),
/// `BUFFER_TOO_SMALL` (nothing written to `buf`).
#[no_mangle]
pub extern "C" fn kino_emitter_last_delivery_error(
    emitter: *const KinoEmitter,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> KinoStatus {
    guard_status(|| {
        let emitter = deref(emitter, "emitter")?;
        copy_out(
            &emitter.0.last_error_message(),
            buf,
            len,
            needed,
            "the delivery error message",
        )
    })
}
