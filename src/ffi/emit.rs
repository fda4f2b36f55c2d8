//! The `kino_emit_*` calls: one per event variant. Each converts its C
//! arguments and hands the event to `Emitter::emit`, which validates,
//! stamps and queues it without blocking.
//!
//! Every call returns `KINO_STATUS_OK` when the event was queued,
//! `KINO_STATUS_QUEUE_FULL` when it was dropped (and counted), or an
//! input error (`NULL_ARGUMENT`, `INVALID_UTF8`, `INVALID_ARGUMENT`) when
//! it was refused and not queued. Positions, durations and buffer levels
//! are seconds and must be finite and non-negative (pass 0 for a position
//! the engine cannot tell yet); bitrates are bits per second. Strings are
//! copied before the call returns.

use std::ffi::c_char;

use super::emitter::KinoEmitter;
use super::{deref, guard_status, optional_text, text, KinoStatus};
use crate::error::Error;
use crate::event::{AnalyticsEvent, PlayerState, QualityChangeReason, Resolution};
use crate::sanitize::parse_custom_json;

/// The player's state, for `kino_emit_state_change`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KinoPlayerState {
    /// Nothing loaded.
    Idle = 0,
    /// Loading the media.
    Loading = 1,
    /// Frames are being rendered.
    Playing = 2,
    /// Paused (by the user or by the engine).
    Paused = 3,
    /// Waiting for data.
    Buffering = 4,
    /// A seek is in progress.
    Seeking = 5,
    /// Playback reached the end.
    Ended = 6,
    /// Playback stopped on an error.
    Error = 7,
}

/// Why the rendition changed, for `kino_emit_quality_change`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KinoQualityChangeReason {
    /// The ABR algorithm decided.
    Abr = 0,
    /// The user picked a quality.
    Manual = 1,
    /// Buffer-based downgrade.
    Buffer = 2,
    /// The starting rendition (not counted as a switch).
    Initial = 3,
}

/// A video resolution in pixels.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KinoResolution {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

fn player_state(value: u32, what: &str) -> Result<PlayerState, Error> {
    Ok(match value {
        0 => PlayerState::Idle,
        1 => PlayerState::Loading,
        2 => PlayerState::Playing,
        3 => PlayerState::Paused,
        4 => PlayerState::Buffering,
        5 => PlayerState::Seeking,
        6 => PlayerState::Ended,
        7 => PlayerState::Error,
        _ => {
            return Err(Error::invalid(format!(
                "{what} is not a KinoPlayerState (0..7): {value}"
            )))
        }
    })
}

fn quality_reason(value: u32) -> Result<QualityChangeReason, Error> {
    Ok(match value {
        0 => QualityChangeReason::Abr,
        1 => QualityChangeReason::Manual,
        2 => QualityChangeReason::Buffer,
        3 => QualityChangeReason::Initial,
        _ => {
            return Err(Error::invalid(format!(
                "reason is not a KinoQualityChangeReason (0..3): {value}"
            )))
        }
    })
}

fn resolution(ptr: *const KinoResolution) -> Option<Resolution> {
    // SAFETY: a non-NULL pointer points to a KinoResolution (API contract).
    unsafe { ptr.as_ref() }.map(|r| Resolution {
        width: r.width,
        height: r.height,
    })
}

fn emit(
    emitter: *mut KinoEmitter,
    make: impl FnOnce() -> Result<AnalyticsEvent, Error>,
) -> KinoStatus {
    guard_status(|| {
        let emitter = deref(emitter, "emitter")?;
        emitter.0.emit(make()?).map(|_| ())
    })
}

/// Content loaded: `url` (copied; user-info always removed, query and
/// fragment removed unless `kino_config_set_keep_url_query`, then cut to
/// 8 KiB) and whether it is a live stream. Starts a new view.
#[no_mangle]
pub extern "C" fn kino_emit_load(
    emitter: *mut KinoEmitter,
    url: *const c_char,
    is_live: bool,
) -> KinoStatus {
    emit(emitter, || {
        Ok(AnalyticsEvent::Load {
            url: text(url, "url")?.to_owned(),
            is_live,
        })
    })
}

/// Playback started or resumed: call at the first rendered frame, not when
/// play is requested. `position` is the media time in seconds.
#[no_mangle]
pub extern "C" fn kino_emit_play(emitter: *mut KinoEmitter, position: f64) -> KinoStatus {
    emit(emitter, || Ok(AnalyticsEvent::Play { position }))
}

/// The user paused at `position`.
#[no_mangle]
pub extern "C" fn kino_emit_pause(emitter: *mut KinoEmitter, position: f64) -> KinoStatus {
    emit(emitter, || Ok(AnalyticsEvent::Pause { position }))
}

/// A seek was requested, from media time `from` to `to`.
#[no_mangle]
pub extern "C" fn kino_emit_seek(emitter: *mut KinoEmitter, from: f64, to: f64) -> KinoStatus {
    emit(emitter, || Ok(AnalyticsEvent::Seek { from, to }))
}

/// Playback stalled at `position` with `buffer_level` seconds buffered.
#[no_mangle]
pub extern "C" fn kino_emit_rebuffer(
    emitter: *mut KinoEmitter,
    position: f64,
    buffer_level: f64,
) -> KinoStatus {
    emit(emitter, || {
        Ok(AnalyticsEvent::Rebuffer {
            position,
            buffer_level,
        })
    })
}

/// The stall ended at `position` after `duration` seconds (0 if unknown).
#[no_mangle]
pub extern "C" fn kino_emit_rebuffer_end(
    emitter: *mut KinoEmitter,
    position: f64,
    duration: f64,
) -> KinoStatus {
    emit(emitter, || {
        Ok(AnalyticsEvent::RebufferEnd { position, duration })
    })
}

/// The rendition changed from `from_bitrate` to `to_bitrate` (bit/s).
/// Resolutions may be NULL (unknown). `reason` is a
/// `KinoQualityChangeReason`; anything else is `INVALID_ARGUMENT`. Send
/// one with `KINO_QUALITY_CHANGE_REASON_INITIAL` for the first rendition.
#[no_mangle]
pub extern "C" fn kino_emit_quality_change(
    emitter: *mut KinoEmitter,
    from_bitrate: u64,
    to_bitrate: u64,
    from_resolution: *const KinoResolution,
    to_resolution: *const KinoResolution,
    reason: u32,
) -> KinoStatus {
    emit(emitter, || {
        Ok(AnalyticsEvent::QualityChange {
            from_bitrate,
            to_bitrate,
            from_resolution: resolution(from_resolution),
            to_resolution: resolution(to_resolution),
            reason: quality_reason(reason)?,
        })
    })
}

/// The engine's state changed. `from` and `to` are `KinoPlayerState`
/// values; anything else is `INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn kino_emit_state_change(
    emitter: *mut KinoEmitter,
    from: u32,
    to: u32,
    position: f64,
) -> KinoStatus {
    emit(emitter, || {
        Ok(AnalyticsEvent::StateChange {
            from: player_state(from, "from")?,
            to: player_state(to, "to")?,
            position,
        })
    })
}

/// Playback ended at `position`; `watch_time` is the player's own count
/// of seconds watched. Sent at once, with everything queued before it.
#[no_mangle]
pub extern "C" fn kino_emit_end(
    emitter: *mut KinoEmitter,
    position: f64,
    watch_time: f64,
) -> KinoStatus {
    emit(emitter, || {
        Ok(AnalyticsEvent::End {
            position,
            watch_time,
        })
    })
}

/// An error: `code` (cut to 256 bytes) and `message` (cut to 4 KiB) are
/// copied. A fatal error is sent at once, with everything queued before it.
#[no_mangle]
pub extern "C" fn kino_emit_error(
    emitter: *mut KinoEmitter,
    code: *const c_char,
    message: *const c_char,
    fatal: bool,
    position: f64,
) -> KinoStatus {
    emit(emitter, || {
        Ok(AnalyticsEvent::Error {
            code: text(code, "code")?.to_owned(),
            message: text(message, "message")?.to_owned(),
            fatal,
            position,
        })
    })
}

/// Periodic playback report (every 10 s or so while a view is open).
#[no_mangle]
pub extern "C" fn kino_emit_heartbeat(
    emitter: *mut KinoEmitter,
    position: f64,
    buffer_level: f64,
    bitrate: u64,
    dropped_frames: u64,
    decoded_frames: u64,
) -> KinoStatus {
    emit(emitter, || {
        Ok(AnalyticsEvent::Heartbeat {
            position,
            buffer_level,
            bitrate,
            dropped_frames,
            decoded_frames,
        })
    })
}

/// A custom event: `name` (non-empty, cut to 256 bytes) and `json_data`,
/// JSON text of at most 65 536 bytes (NULL means JSON `null`). Invalid or
/// oversized JSON is `INVALID_ARGUMENT`; invalid UTF-8 is `INVALID_UTF8`.
#[no_mangle]
pub extern "C" fn kino_emit_custom(
    emitter: *mut KinoEmitter,
    name: *const c_char,
    json_data: *const c_char,
) -> KinoStatus {
    emit(emitter, || {
        let name = text(name, "name")?.to_owned();
        let data = match optional_text(json_data, "json_data")? {
            Some(json) => parse_custom_json(json)?,
            None => serde_json::Value::Null,
        };
        Ok(AnalyticsEvent::Custom { name, data })
    })
}
