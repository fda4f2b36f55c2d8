//! The context calls (issue 9) on `KinoConfig` and `KinoEmitter`:
//! metadata, sampling, consent, the records not yet delivered, and CMCD.

use std::ffi::c_char;

use super::config::KinoConfig;
use super::emitter::KinoEmitter;
use super::{
    copy_out, deref, deref_mut, guard_status, null, optional_text, text, write_out, KinoStatus,
};
use crate::cmcd::Form;
use crate::error::Error;
use crate::metadata::Level;

/// Sets a session-level metadata key for every view of the emitters made
/// from this config: `value` (UTF-8, copied, cut to the longest whole
/// character prefix within 1 KiB), or with a NULL `value` removes the key.
///
/// A key is `[a-z][a-z0-9_]{0,63}`. The well-known keys are listed in
/// docs/EVENTS.md (`env`, `viewer_id`, `app_name`, `app_version`,
/// `player_name`, `player_version`, `video_id`, `video_title`,
/// `video_series`, `video_duration`, `video_stream_type`, `video_cdn`,
/// `video_language`, `video_encoding_variant`, `experiment_name`,
/// `experiment_variant`); any other key is a custom dimension.
/// `video_duration` must be a number of seconds (`"5400"`, `"42.5"`),
/// `video_stream_type` `"on_demand"` or `"live"`. kino fills
/// `kino_version`, `os_name`, `os_version` and `arch` itself; a key set
/// here overrides kino's value. At most 64 keys per level.
///
/// Errors: `NULL_ARGUMENT` (config, key), `INVALID_UTF8`,
/// `INVALID_ARGUMENT` (bad key, bad typed value, a 65th key).
#[no_mangle]
pub extern "C" fn kino_config_set_metadata(
    config: *mut KinoConfig,
    key: *const c_char,
    value: *const c_char,
) -> KinoStatus {
    guard_status(|| {
        let config = deref_mut(config, "config")?;
        let key = text(key, "key")?;
        let value = optional_text(value, "value")?;
        config.0.set_metadata(key, value)
    })
}

/// Puts the merged metadata on every record of a view (default false: on
/// the `load` and `qoe` records only), for row stores that do not join.
///
/// Errors: `NULL_ARGUMENT`.
#[no_mangle]
pub extern "C" fn kino_config_set_metadata_on_every_record(
    config: *mut KinoConfig,
    on: bool,
) -> KinoStatus {
    guard_status(|| {
        deref_mut(config, "config")?
            .0
            .set_metadata_on_every_record(on);
        Ok(())
    })
}

/// The share of sessions collected, in (0, 1] (default 1). Each emitter
/// decides once, from its session id, by the rule in docs/EVENTS.md (a
/// backend can recompute it): the id's first 8 bytes, big-endian, below
/// `rate * 2^64`. A sampled-out emitter validates every call and returns
/// the usual statuses, counts valid calls in `KinoStats.suppressed`, and
/// sends and writes nothing; `kino_emitter_qoe` and `kino_emitter_cmcd`
/// still work. Records of sampled-in sessions carry `sample_rate` on
/// `load` and `qoe`.
///
/// Errors: `NULL_ARGUMENT`, `INVALID_ARGUMENT` (NaN, 0 or less, above 1).
#[no_mangle]
pub extern "C" fn kino_config_set_sample_rate(config: *mut KinoConfig, rate: f64) -> KinoStatus {
    guard_status(|| deref_mut(config, "config")?.0.set_sample_rate(rate))
}

fn set_metadata(
    emitter: *mut KinoEmitter,
    level: Level,
    key: *const c_char,
    value: *const c_char,
) -> KinoStatus {
    guard_status(|| {
        let emitter = deref(emitter, "emitter")?;
        let key = text(key, "key")?;
        let value = optional_text(value, "value")?;
        emitter.0.set_metadata(level, key, value)
    })
}

/// Sets (or with a NULL `value` removes) a session-level metadata key at
/// any time, for example a `viewer_id` known only after login. Rules as
/// for `kino_config_set_metadata`. Ordered with the `kino_emit_*` calls
/// made on the same thread. A change while a view is open is sent as a
/// `metadata` record of that view (the changed keys, a removed one as
/// null).
///
/// Errors: `NULL_ARGUMENT` (emitter, key), `INVALID_UTF8`,
/// `INVALID_ARGUMENT` (bad key, bad typed value, a 65th key),
/// `QUEUE_FULL` (a view is open, so the change makes a `metadata` record,
/// and the queue is full: nothing changed, counted in `dropped`),
/// `CLOSED`.
#[no_mangle]
pub extern "C" fn kino_emitter_set_metadata(
    emitter: *mut KinoEmitter,
    key: *const c_char,
    value: *const c_char,
) -> KinoStatus {
    set_metadata(emitter, Level::Session, key, value)
}

/// Sets (or with a NULL `value` removes) a metadata key of the open view,
/// or of the next view while none is open. Ordered with the `kino_emit_*`
/// calls made on the same thread: set `video_id`, then `kino_emit_load`,
/// and that view has it. A view's metadata is cleared when it closes, so
/// the next video never inherits the last one's title. A change while the
/// view is open is sent as a `metadata` record. Rules and errors as for
/// `kino_emitter_set_metadata`; the view's keys win over the session's.
#[no_mangle]
pub extern "C" fn kino_emitter_set_view_metadata(
    emitter: *mut KinoEmitter,
    key: *const c_char,
    value: *const c_char,
) -> KinoStatus {
    set_metadata(emitter, Level::View, key, value)
}

/// Writes to `*out` whether this emitter's session is sampled in
/// (`kino_config_set_sample_rate`).
///
/// Errors: `NULL_ARGUMENT`.
#[no_mangle]
pub extern "C" fn kino_emitter_sampled(emitter: *const KinoEmitter, out: *mut bool) -> KinoStatus {
    guard_status(|| {
        let emitter = deref(emitter, "emitter")?;
        if out.is_null() {
            return Err(null("out"));
        }
        write_out(out, emitter.0.sampled());
        Ok(())
    })
}

/// The viewer's consent (granted by default). `false`: every later call is
/// validated and returns its usual status, a valid one is counted in
/// `KinoStats.suppressed`; nothing is queued, sent or written, and kino
/// makes no records of its own (`qoe`, `metadata`). What was pending is
/// discarded first, as `kino_emitter_clear` does. Suppressed calls cost
/// what accepted ones do. `true` resumes collection.
///
/// Errors: `NULL_ARGUMENT`, `CLOSED`, `TIMEOUT` (consent is withdrawn and
/// later calls suppressed, but kino's worker is in a delivery attempt
/// longer than the request timeout; it discards the pending records once
/// that ends), `INVALID_ARGUMENT` (withdrawn from inside the batch
/// callback).
#[no_mangle]
pub extern "C" fn kino_emitter_set_consent(emitter: *mut KinoEmitter, granted: bool) -> KinoStatus {
    guard_status(|| deref(emitter, "emitter")?.0.set_consent(granted))
}

/// Discards every record accepted and not yet delivered or given up on
/// (the seed's `clear()`): those in memory and those in this emitter's
/// spool files. They are counted in `KinoStats.discarded` and in `failed`
/// (so `emitted == delivered + failed + queued` still holds). Open views
/// stay open; sequence numbers go on. Waits for kino's worker, at most
/// the request timeout plus a second.
///
/// Errors: `NULL_ARGUMENT`, `CLOSED`, `TIMEOUT` (the worker is in a long
/// delivery attempt: the records are discarded when it ends),
/// `INVALID_ARGUMENT` (called from inside the batch callback).
#[no_mangle]
pub extern "C" fn kino_emitter_clear(emitter: *mut KinoEmitter) -> KinoStatus {
    guard_status(|| deref(emitter, "emitter")?.0.clear())
}

/// Writes the records accepted and not yet delivered or given up on (the
/// seed's `get_events()`) into `buf` as a JSON array, NUL-terminated, in
/// sequence order, in the wire shape with their ids: exactly the records
/// a collector later receives for them (in kino's record shape whatever
/// the beacon format). `*needed` (if not NULL) receives the size the text
/// needs, NUL included, on success and on `BUFFER_TOO_SMALL`; records
/// keep arriving, so call again with a larger buffer until it fits.
///
/// Errors: `NULL_ARGUMENT` (emitter; or buf with `len` big enough),
/// `BUFFER_TOO_SMALL` (nothing written to `buf`), `CLOSED`, `TIMEOUT`,
/// `INVALID_ARGUMENT` (called from inside the batch callback).
#[no_mangle]
pub extern "C" fn kino_emitter_pending_events(
    emitter: *const KinoEmitter,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> KinoStatus {
    guard_status(|| {
        let emitter = deref(emitter, "emitter")?;
        let json = emitter.0.pending_events()?;
        copy_out(&json, buf, len, needed, "the pending-records JSON")
    })
}

/// How `kino_emitter_cmcd` lays out CTA-5004 data.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KinoCmcdForm {
    /// One query argument, `CMCD=<url-encoded payload>`: append it to the
    /// segment URL after `?` or `&`.
    Query = 0,
    /// Header lines, `Name: value\r\n` each: `CMCD-Object`,
    /// `CMCD-Request`, `CMCD-Session`, `CMCD-Status`, only non-empty ones.
    Headers = 1,
}

/// Writes Common Media Client Data (CTA-5004, version 1) for the next
/// segment request into `buf`, NUL-terminated, so the CDN's logs carry
/// kino's ids: `sid` (the open view's `view_id`, else the session id),
/// `cid` (the view metadata `video_id`, when set), `br` (current
/// rendition, kbps), `bl` (last reported buffer level, ms rounded to 100),
/// `st` (`v`/`l` from the load's `is_live`), `su` (before the first
/// frame, or while stalled), `bs` (a stall began since the previous call).
/// Outside a view only `sid` (the session id). Keys in alphabetical order, strings quoted and escaped, booleans as
/// bare keys. `form` is a `KinoCmcdForm`. Add the keys only the player
/// knows (`ot`, `d`, `nor`, `tb`…) as docs/EVENTS.md shows. Cheap, from
/// any thread. `*needed` as for `kino_emitter_pending_events`.
///
/// Errors: `NULL_ARGUMENT` (emitter; or buf with `len` big enough),
/// `INVALID_ARGUMENT` (`form` not a `KinoCmcdForm`), `BUFFER_TOO_SMALL`.
#[no_mangle]
pub extern "C" fn kino_emitter_cmcd(
    emitter: *const KinoEmitter,
    form: u32,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> KinoStatus {
    guard_status(|| {
        let emitter = deref(emitter, "emitter")?;
        let form = match form {
            0 => Form::Query,
            1 => Form::Headers,
            other => {
                return Err(Error::invalid(format!(
                    "form is not a KinoCmcdForm (0..1): {other}"
                )))
            }
        };
        copy_out(&emitter.0.cmcd(form), buf, len, needed, "the CMCD text")
    })
}
