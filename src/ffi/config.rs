//! `KinoConfig`: the options builder read by `kino_emitter_new`.

use super::{deref_mut, guard, guard_status, optional_text, text, KinoStatus};
use crate::config::{BeaconFormat, Config};
use crate::transport::callback::{BatchCallbackFn, CallbackSpec};
use std::ffi::{c_char, c_int, c_void};

/// Options for an emitter. Create with `kino_config_new()`, adjust with
/// the `kino_config_set_*` calls, pass to `kino_emitter_new()`, then free
/// with `kino_config_free()`; emitters made from it do not depend on it.
/// Not thread-safe: use one config from one thread at a time.
///
/// Methods: `kino_config_new`, `kino_config_free`,
/// `kino_config_set_beacon_url`, `kino_config_set_batch_size`,
/// `kino_config_set_flush_interval_ms`, `kino_config_set_queue_capacity`,
/// `kino_config_set_request_timeout_ms`, `kino_config_set_shutdown_timeout_ms`,
/// `kino_config_add_header`, `kino_config_set_batch_callback`,
/// `kino_config_set_keep_url_query`, `kino_config_set_retry_backoff_ms`,
/// `kino_config_set_max_body_bytes`, `kino_config_set_gzip`,
/// `kino_config_set_spool_dir`, `kino_config_set_spool_max_bytes`,
/// `kino_config_set_spool_max_age_s`, `kino_config_set_format`,
/// `kino_config_set_server_error_limit`, `kino_config_set_ca_file`,
/// `kino_config_set_ca_pem`,
/// `kino_config_set_metadata`, `kino_config_set_metadata_on_every_record`,
/// `kino_config_set_sample_rate`.
pub struct KinoConfig(pub(crate) Config);

/// Return value of a batch callback meaning "not delivered now, try again
/// later": the batch is retried with back-off, as for an HTTP 503.
pub const KINO_BATCH_RETRY_LATER: i32 = 75;
const _: () = assert!(KINO_BATCH_RETRY_LATER == crate::transport::callback::RETRY_LATER);

/// Called on kino's background thread with one batch: `json` is a
/// NUL-terminated JSON array of records (CONTRACT §3), valid only during
/// the call; `len` excludes the NUL. Return 0 when the batch is delivered;
/// `KINO_BATCH_RETRY_LATER` to have it retried with back-off (it holds
/// back later batches meanwhile); any other value means refused for good
/// (counted in `KinoStats.failed`).
/// The callback must be thread-safe with respect to your own code, must
/// not free its own emitter, and `kino_emitter_flush` called from inside
/// it returns `KINO_STATUS_INVALID_ARGUMENT`.
pub type KinoBatchCallback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, json: *const c_char, len: usize) -> c_int>;

/// A new configuration with the defaults: batch size 50, flush interval
/// 10 000 ms, queue capacity 1000, request timeout 10 000 ms, shutdown
/// timeout 2000 ms, no headers, no callback, URL queries removed. The
/// beacon URL is taken from the environment variable `KINO_BEACON_URL`
/// when that holds a valid http(s) URL.
///
/// Returns NULL only if memory could not be allocated. The caller owns
/// the result and frees it with `kino_config_free()`.
#[no_mangle]
pub extern "C" fn kino_config_new() -> *mut KinoConfig {
    guard(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(KinoConfig(Config::from_env())))
    })
}

/// Frees a configuration. NULL is a no-op. Emitters already made from it
/// are not affected.
#[no_mangle]
pub extern "C" fn kino_config_free(config: *mut KinoConfig) {
    guard((), || {
        if !config.is_null() {
            // SAFETY: non-NULL configs come from kino_config_new and are
            // freed once, by the API's contract.
            drop(unsafe { Box::from_raw(config) });
        }
    })
}

/// Sets the collector URL (`http://` or `https://` with a host); NULL
/// clears it (no URL: batches go to the callback, or are counted as
/// failed). The string is copied.
///
/// Errors: `NULL_ARGUMENT` (config), `INVALID_UTF8`, `INVALID_ARGUMENT`
/// (not an http(s) URL with a host).
#[no_mangle]
pub extern "C" fn kino_config_set_beacon_url(
    config: *mut KinoConfig,
    url: *const c_char,
) -> KinoStatus {
    guard_status(|| {
        let config = deref_mut(config, "config")?;
        let url = optional_text(url, "url")?;
        config.0.set_beacon_url(url)
    })
}

/// Events per beacon at most (default 50). Zero is `INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn kino_config_set_batch_size(config: *mut KinoConfig, events: u32) -> KinoStatus {
    guard_status(|| deref_mut(config, "config")?.0.set_batch_size(events))
}

/// Longest time, in milliseconds, an event waits before it is sent
/// (default 10 000). Zero is `INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn kino_config_set_flush_interval_ms(
    config: *mut KinoConfig,
    ms: u32,
) -> KinoStatus {
    guard_status(|| deref_mut(config, "config")?.0.set_flush_interval_ms(ms))
}

/// Events the queue holds before new ones are dropped with
/// `KINO_STATUS_QUEUE_FULL` (default 1000, at most 1 048 576). Memory for
/// the queue is reserved when the emitter is created. Zero or more than
/// the maximum is `INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn kino_config_set_queue_capacity(
    config: *mut KinoConfig,
    events: u32,
) -> KinoStatus {
    guard_status(|| deref_mut(config, "config")?.0.set_queue_capacity(events))
}

/// Bound on one whole HTTP request, connect to answer, in milliseconds
/// (default 10 000). Zero is `INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn kino_config_set_request_timeout_ms(
    config: *mut KinoConfig,
    ms: u32,
) -> KinoStatus {
    guard_status(|| deref_mut(config, "config")?.0.set_request_timeout_ms(ms))
}

/// How long `kino_emitter_free` may spend delivering what is queued, in
/// milliseconds (default 2000); it returns within this plus 250 ms even
/// when the collector hangs. Zero is `INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn kino_config_set_shutdown_timeout_ms(
    config: *mut KinoConfig,
    ms: u32,
) -> KinoStatus {
    guard_status(|| deref_mut(config, "config")?.0.set_shutdown_timeout_ms(ms))
}

/// Adds an HTTP header to every beacon (both strings are copied). The name
/// must be an HTTP token and the value must hold no control character
/// but tab (no CR, LF, NUL or DEL) (`INVALID_ARGUMENT`). `User-Agent` replaces kino's `kino/<version>`;
/// `Content-Type` and `Content-Encoding` are kino's and refused.
#[no_mangle]
pub extern "C" fn kino_config_add_header(
    config: *mut KinoConfig,
    name: *const c_char,
    value: *const c_char,
) -> KinoStatus {
    guard_status(|| {
        let config = deref_mut(config, "config")?;
        let name = text(name, "name")?;
        let value = text(value, "value")?;
        config.0.add_header(name, value)
    })
}

/// Delivers batches to `callback` (with `user_data`) instead of the beacon
/// URL; a NULL callback clears it. See `KinoBatchCallback` for the rules.
/// `user_data` must stay valid until every emitter made from this config
/// has been freed; after `kino_emitter_free` returns, kino never calls the
/// callback or touches `user_data` again.
#[no_mangle]
pub extern "C" fn kino_config_set_batch_callback(
    config: *mut KinoConfig,
    callback: KinoBatchCallback,
    user_data: *mut c_void,
) -> KinoStatus {
    guard_status(|| {
        let config = deref_mut(config, "config")?;
        let spec = callback.map(|cb| {
            let cb: BatchCallbackFn = cb;
            // SAFETY: the host promises the callback may be called on
            // kino's thread with user_data until kino_emitter_free returns;
            // each emitter's CallbackSink gate is shut by that free.
            unsafe { CallbackSpec::new(cb, user_data) }
        });
        config.0.set_batch_callback(spec);
        Ok(())
    })
}

/// Keep the query string and fragment of URLs given to `kino_emit_load`
/// (default false: they are removed, since signed media URLs carry access
/// tokens). User-info (`user:password@`) is removed either way.
#[no_mangle]
pub extern "C" fn kino_config_set_keep_url_query(
    config: *mut KinoConfig,
    keep: bool,
) -> KinoStatus {
    guard_status(|| {
        deref_mut(config, "config")?.0.set_keep_url_query(keep);
        Ok(())
    })
}

/// Retry waits for batches that failed transiently (network errors,
/// timeouts, HTTP 408, 429 and 5xx, `KINO_BATCH_RETRY_LATER`): the n-th
/// retry waits a random time in `[min_ms, min(max_ms, min_ms·2ⁿ)]`
/// (defaults 1 000 / 60 000). A `Retry-After` answer (seconds or HTTP
/// date, capped at 10 minutes) replaces the computed wait. Retries go on
/// until the batch is delivered; meanwhile later batches wait behind it
/// and new events queue (and drop when the queue is full, unless a spool
/// is set). Zero, or `max_ms` < `min_ms`, is `INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn kino_config_set_retry_backoff_ms(
    config: *mut KinoConfig,
    min_ms: u32,
    max_ms: u32,
) -> KinoStatus {
    guard_status(|| {
        deref_mut(config, "config")?
            .0
            .set_retry_backoff_ms(min_ms, max_ms)
    })
}

/// Largest beacon body in bytes, before compression (default 524 288;
/// at least 1024, else `INVALID_ARGUMENT`). Batches are split to fit; a
/// single event larger than this is counted as failed. A collector that
/// answers 413 makes kino split the batch in halves and send each.
#[no_mangle]
pub extern "C" fn kino_config_set_max_body_bytes(
    config: *mut KinoConfig,
    bytes: u32,
) -> KinoStatus {
    guard_status(|| deref_mut(config, "config")?.0.set_max_body_bytes(bytes))
}

/// Compress beacon bodies with gzip (`Content-Encoding: gzip`); default
/// off. The batch callback always receives plain JSON.
#[no_mangle]
pub extern "C" fn kino_config_set_gzip(config: *mut KinoConfig, on: bool) -> KinoStatus {
    guard_status(|| {
        deref_mut(config, "config")?.0.set_gzip(on);
        Ok(())
    })
}

/// Keeps undelivered batches on disk in `path` (created if missing; NULL
/// turns the spool off, the default). Every batch is written there (temp
/// file, fsync, rename) before its first send and removed once delivered,
/// so a process that is killed loses at most the events not yet batched,
/// and nothing while the collector is down. The next emitter that opens
/// the same directory sends what is left, oldest first, before new events
/// (counted in its `KinoStats.resent`). Emitters and processes may share
/// a directory. `kino_emitter_new` fails with `KINO_STATUS_IO` if the
/// directory cannot be written.
///
/// Errors: `NULL_ARGUMENT` (config), `INVALID_UTF8`, `INVALID_ARGUMENT`
/// (an empty or relative path: it must be absolute).
#[no_mangle]
pub extern "C" fn kino_config_set_spool_dir(
    config: *mut KinoConfig,
    path: *const c_char,
) -> KinoStatus {
    guard_status(|| {
        let config = deref_mut(config, "config")?;
        let path = optional_text(path, "path")?;
        config.0.set_spool_dir(path)
    })
}

/// Bound on the spool's size in bytes (default 10 MiB, at least 64 KiB,
/// else `INVALID_ARGUMENT`). Past it the oldest batches are evicted and
/// their events counted in `KinoStats.evicted` (and in `failed`).
#[no_mangle]
pub extern "C" fn kino_config_set_spool_max_bytes(
    config: *mut KinoConfig,
    bytes: u64,
) -> KinoStatus {
    guard_status(|| deref_mut(config, "config")?.0.set_spool_max_bytes(bytes))
}

/// Batches on disk longer than this many seconds are evicted (default 7
/// days, 604 800; at least 60, else `INVALID_ARGUMENT`).
#[no_mangle]
pub extern "C" fn kino_config_set_spool_max_age_s(
    config: *mut KinoConfig,
    seconds: u32,
) -> KinoStatus {
    guard_status(|| deref_mut(config, "config")?.0.set_spool_max_age_s(seconds))
}

/// Layout of a beacon body, for `kino_config_set_format`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KinoFormat {
    /// A JSON array of records, `Content-Type: application/json` (default).
    Json = 0,
    /// One record per line, `Content-Type: application/x-ndjson`: what
    /// ClickHouse (`JSONEachRow`), Vector and Fluent Bit ingest as is.
    Ndjson = 1,
    /// An OpenTelemetry OTLP/HTTP logs request in the OTLP/JSON encoding,
    /// `Content-Type: application/json`, for a collector's `/v1/logs`
    /// (docs/OTLP.md). Delivery then follows OTLP's rules: only 429, 502,
    /// 503 and 504 (and network errors) are retried, and records a 2xx
    /// answer rejects (`partialSuccess`) are counted as failed.
    OtlpJson = 2,
}

/// Sets the beacon body layout: `KINO_FORMAT_JSON` (default),
/// `KINO_FORMAT_NDJSON` or `KINO_FORMAT_OTLP_JSON`. Applies to HTTP beacons
/// and to the batch callback's text alike. Any other value is
/// `INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn kino_config_set_format(config: *mut KinoConfig, format: u32) -> KinoStatus {
    guard_status(|| {
        let config = deref_mut(config, "config")?;
        let format = match format {
            0 => BeaconFormat::JsonArray,
            1 => BeaconFormat::Ndjson,
            2 => BeaconFormat::OtlpJson,
            other => {
                return Err(crate::error::Error::invalid(format!(
                    "format is not a KinoFormat (0..2): {other}"
                )))
            }
        };
        config.0.set_format(format);
        Ok(())
    })
}

/// When a batch that keeps getting server errors is given up: after
/// `attempts` such answers in a row, or `max_age_s` seconds after the
/// first of them, whichever first (defaults 8 and 600). A server error is
/// a 5xx other than 502, 503 and 504 (a ClickHouse that cannot parse a
/// batch answers 500 every time): without a limit one such batch would
/// hold back every later one forever. The batch is counted in
/// `KinoStats.failed`, and kino_emitter_last_delivery_error() quotes the
/// server's answer. Answers that mean "later" (408, 429, 502, 503, 504)
/// and network errors are retried without limit.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_ARGUMENT` (a zero).
#[no_mangle]
pub extern "C" fn kino_config_set_server_error_limit(
    config: *mut KinoConfig,
    attempts: u32,
    max_age_s: u32,
) -> KinoStatus {
    guard_status(|| {
        deref_mut(config, "config")?
            .0
            .set_server_error_limit(attempts, max_age_s)
    })
}

/// Trusts the CA certificates in the PEM file at `path` for an `https://`
/// collector, beside kino's built-in roots (Mozilla's): a private
/// collector's CA, or a test CA. The file is read now; it may hold several
/// certificates (other PEM blocks are ignored). Replaces any CA set before
/// by this call or `kino_config_set_ca_pem`; NULL clears them. With the
/// `platform-verifier` build and no CA set, the operating system's trust
/// store is used instead of the built-in roots.
///
/// Errors: `NULL_ARGUMENT` (config), `INVALID_UTF8`, `IO` (the file cannot
/// be read), `INVALID_ARGUMENT` (no certificate in it, one that cannot be
/// a root, or a build without the HTTP transport).
#[no_mangle]
pub extern "C" fn kino_config_set_ca_file(
    config: *mut KinoConfig,
    path: *const c_char,
) -> KinoStatus {
    guard_status(|| {
        let config = deref_mut(config, "config")?;
        config.0.set_ca_file(optional_text(path, "path")?)
    })
}

/// Like `kino_config_set_ca_file`, with the PEM text itself: `len` bytes at
/// `pem` (no NUL needed). NULL clears the CAs set before.
///
/// Errors: `NULL_ARGUMENT` (config), `INVALID_ARGUMENT` (no certificate,
/// one that cannot be a root, `len` of 0, or a build without the HTTP
/// transport).
#[no_mangle]
pub extern "C" fn kino_config_set_ca_pem(
    config: *mut KinoConfig,
    pem: *const c_char,
    len: usize,
) -> KinoStatus {
    guard_status(|| {
        let config = deref_mut(config, "config")?;
        if pem.is_null() {
            return config.0.set_ca_pem(None);
        }
        if len == 0 {
            return Err(crate::error::Error::invalid("CA PEM is empty (len 0)"));
        }
        // SAFETY: non-NULL, and the caller promises `len` readable bytes.
        let bytes = unsafe { std::slice::from_raw_parts(pem.cast::<u8>(), len) };
        config.0.set_ca_pem(Some(bytes))
    })
}
