//! `KinoQoe`, the stand-alone seed calculator, and `KinoQoeBreakdown`.

use super::{deref, deref_mut, guard, guard_status, null, write_out, KinoStatus};
use crate::error::{Error, ErrorKind};
use crate::qoe::{QoeBreakdown, QoeCalculator};
use crate::view::ViewFigures;

/// The seed's QoE calculator, fed by hand: same arithmetic, same score.
/// Not thread-safe: use one `KinoQoe` from one thread at a time.
///
/// Methods: `kino_qoe_new`, `kino_qoe_free`, `kino_qoe_record_initial_buffer`,
/// `kino_qoe_record_rebuffer`, `kino_qoe_record_quality_switch`,
/// `kino_qoe_record_bitrate`, `kino_qoe_score`, `kino_qoe_breakdown`.
pub struct KinoQoe(QoeCalculator);

/// QoE figures. The first six are the seed's `QoeBreakdown`; the rest are
/// per-view figures. Times are seconds, bitrates bits per second. A figure
/// that does not apply is NaN.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KinoQoeBreakdown {
    /// The kino score, 0..100 (the seed's formula).
    pub score: f64,
    /// Startup delay: `load` to first play.
    pub initial_buffer_time: f64,
    /// Number of rebuffers (stalls).
    pub rebuffer_count: u32,
    /// Total stall time.
    pub rebuffer_duration: f64,
    /// Number of quality switches.
    pub quality_switches: u32,
    /// Time-weighted average bitrate (truncated).
    pub average_bitrate: u64,
    /// The view reached its first frame.
    pub started: bool,
    /// A fatal error ended the view.
    pub playback_failed: bool,
    /// The view closed before starting, without a fatal error.
    pub exit_before_video_start: bool,
    /// Number of seeks.
    pub seek_count: u32,
    /// Mean time from seek request to playback resuming.
    pub average_seek_latency: f64,
    /// Time spent playing.
    pub playing_time: f64,
    /// Playing time plus stall time (CTA-2066 watched time).
    pub watch_time: f64,
    /// `load` to close (or now).
    pub view_time: f64,
    /// Stall time / watch time, 0..1.
    pub rebuffer_ratio: f64,
    /// Stalls per minute of watch time.
    pub rebuffer_frequency: f64,
    /// Switches to a higher bitrate.
    pub upshifts: u32,
    /// Switches to a lower bitrate.
    pub downshifts: u32,
    /// Errors, fatal and not.
    pub error_count: u32,
    /// 100·8/(8+startup time), 0..100.
    pub startup_score: f64,
    /// Mean of the stall-count and stall-ratio scores, 0..100.
    pub smoothness_score: f64,
    /// 100, 50 for exit before video start, 0 for a failure.
    pub playback_success_score: f64,
}

impl KinoQoeBreakdown {
    /// A view's figures; one that does not apply becomes NaN.
    pub(crate) fn from_view(f: &ViewFigures) -> Self {
        let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
        KinoQoeBreakdown {
            score: f.score,
            initial_buffer_time: nan(f.initial_buffer_time),
            rebuffer_count: f.rebuffer_count,
            rebuffer_duration: f.rebuffer_duration,
            quality_switches: f.quality_switches,
            average_bitrate: f.average_bitrate,
            started: f.started,
            playback_failed: f.playback_failed,
            exit_before_video_start: f.exit_before_video_start,
            seek_count: f.seek_count,
            average_seek_latency: nan(f.average_seek_latency),
            playing_time: f.playing_time,
            watch_time: f.watch_time,
            view_time: f.view_time,
            rebuffer_ratio: f.rebuffer_ratio,
            rebuffer_frequency: f.rebuffer_frequency,
            upshifts: f.upshifts,
            downshifts: f.downshifts,
            error_count: f.error_count,
            startup_score: nan(f.startup_score),
            smoothness_score: nan(f.smoothness_score),
            playback_success_score: f.playback_success_score,
        }
    }

    /// All zeros: what `kino_emitter_qoe` reports before the first `load`.
    pub fn from_zero() -> Self {
        KinoQoeBreakdown {
            score: 0.0,
            initial_buffer_time: 0.0,
            rebuffer_count: 0,
            rebuffer_duration: 0.0,
            quality_switches: 0,
            average_bitrate: 0,
            started: false,
            playback_failed: false,
            exit_before_video_start: false,
            seek_count: 0,
            average_seek_latency: 0.0,
            playing_time: 0.0,
            watch_time: 0.0,
            view_time: 0.0,
            rebuffer_ratio: 0.0,
            rebuffer_frequency: 0.0,
            upshifts: 0,
            downshifts: 0,
            error_count: 0,
            startup_score: 0.0,
            smoothness_score: 0.0,
            playback_success_score: 0.0,
        }
    }

    /// The seed's six figures; the per-view figures do not apply (NaN / 0).
    pub(crate) fn from_seed(b: &QoeBreakdown) -> Self {
        KinoQoeBreakdown {
            score: b.score,
            initial_buffer_time: b.initial_buffer_time,
            rebuffer_count: b.rebuffer_count,
            rebuffer_duration: b.rebuffer_duration,
            quality_switches: b.quality_switches,
            average_bitrate: b.average_bitrate,
            started: false,
            playback_failed: false,
            exit_before_video_start: false,
            seek_count: 0,
            average_seek_latency: f64::NAN,
            playing_time: f64::NAN,
            watch_time: f64::NAN,
            view_time: f64::NAN,
            rebuffer_ratio: f64::NAN,
            rebuffer_frequency: f64::NAN,
            upshifts: 0,
            downshifts: 0,
            error_count: 0,
            startup_score: f64::NAN,
            smoothness_score: f64::NAN,
            playback_success_score: f64::NAN,
        }
    }
}

fn checked_seconds(value: f64, what: &'static str) -> Result<f64, Error> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{what} must be a finite, non-negative number of seconds (got {value})"),
        ))
    }
}

/// A new calculator (score 100). Free with `kino_qoe_free()`. NULL only
/// if memory could not be allocated.
#[no_mangle]
pub extern "C" fn kino_qoe_new() -> *mut KinoQoe {
    guard(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(KinoQoe(QoeCalculator::new())))
    })
}

/// Frees a calculator. NULL is a no-op.
#[no_mangle]
pub extern "C" fn kino_qoe_free(qoe: *mut KinoQoe) {
    guard((), || {
        if !qoe.is_null() {
            // SAFETY: non-NULL pointers come from kino_qoe_new, freed once.
            drop(unsafe { Box::from_raw(qoe) });
        }
    })
}

/// Sets the startup delay in seconds (the last value wins).
/// Errors: `NULL_ARGUMENT`, `INVALID_ARGUMENT` (negative, NaN, infinite).
#[no_mangle]
pub extern "C" fn kino_qoe_record_initial_buffer(qoe: *mut KinoQoe, seconds: f64) -> KinoStatus {
    guard_status(|| {
        let qoe = deref_mut(qoe, "qoe")?;
        qoe.0
            .record_initial_buffer(checked_seconds(seconds, "initial buffer time")?);
        Ok(())
    })
}

/// Adds one rebuffer lasting `seconds`.
/// Errors: `NULL_ARGUMENT`, `INVALID_ARGUMENT` (negative, NaN, infinite).
#[no_mangle]
pub extern "C" fn kino_qoe_record_rebuffer(qoe: *mut KinoQoe, seconds: f64) -> KinoStatus {
    guard_status(|| {
        let qoe = deref_mut(qoe, "qoe")?;
        qoe.0
            .record_rebuffer(checked_seconds(seconds, "rebuffer duration")?);
        Ok(())
    })
}

/// Adds one quality switch at `timestamp` seconds to `bitrate` bit/s.
/// Errors: `NULL_ARGUMENT`, `INVALID_ARGUMENT` (negative, NaN, infinite).
#[no_mangle]
pub extern "C" fn kino_qoe_record_quality_switch(
    qoe: *mut KinoQoe,
    timestamp: f64,
    bitrate: u64,
) -> KinoStatus {
    guard_status(|| {
        let qoe = deref_mut(qoe, "qoe")?;
        qoe.0
            .record_quality_switch(checked_seconds(timestamp, "timestamp")?, bitrate);
        Ok(())
    })
}

/// Adds `duration` seconds played at `bitrate` bit/s.
/// Errors: `NULL_ARGUMENT`, `INVALID_ARGUMENT` (negative, NaN, infinite).
#[no_mangle]
pub extern "C" fn kino_qoe_record_bitrate(
    qoe: *mut KinoQoe,
    duration: f64,
    bitrate: u64,
) -> KinoStatus {
    guard_status(|| {
        let qoe = deref_mut(qoe, "qoe")?;
        qoe.0
            .record_bitrate(checked_seconds(duration, "duration")?, bitrate);
        Ok(())
    })
}

/// The score, 0..100; NaN for a NULL calculator.
#[no_mangle]
pub extern "C" fn kino_qoe_score(qoe: *const KinoQoe) -> f64 {
    guard(f64::NAN, || match deref(qoe, "qoe") {
        Ok(qoe) => qoe.0.calculate_qoe(),
        Err(e) => {
            super::error::record_error(&e);
            f64::NAN
        }
    })
}

/// Writes all figures into `*out`: the seed's six; the per-view figures
/// do not apply to a hand-fed calculator and are NaN / 0 / false.
/// Errors: `NULL_ARGUMENT`.
#[no_mangle]
pub extern "C" fn kino_qoe_breakdown(
    qoe: *const KinoQoe,
    out: *mut KinoQoeBreakdown,
) -> KinoStatus {
    guard_status(|| {
        let qoe = deref(qoe, "qoe")?;
        if out.is_null() {
            return Err(null("out"));
        }
        write_out(out, KinoQoeBreakdown::from_seed(&qoe.0.breakdown()));
        Ok(())
    })
}
