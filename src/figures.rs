//! The figures of one view: what a `qoe` record carries on the wire and
//! what `kino_emitter_qoe` returns (as `KinoQoeBreakdown`). A plain data
//! record; [`crate::view`] computes it.

use serde::{Deserialize, Serialize};

/// The figures of one view. They become the C struct `KinoQoeBreakdown`
/// (same names, same order) and the fields of a `qoe` record; a figure that
/// does not apply is `None` (JSON `null`). No figure is ever NaN or
/// infinite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViewFigures {
    /// The seed's score, 0..100 ([`kino_score`] over the figures below; an
    /// initial buffer that does not apply counts as 0). Always computed.
    pub score: f64,
    /// First play/playing − `load`, seconds; `None` if the view never started.
    pub initial_buffer_time: Option<f64>,
    /// Stalls after the start (see the module docs).
    pub rebuffer_count: u32,
    /// Total stall time, seconds.
    pub rebuffer_duration: f64,
    /// `quality_change` events whose reason is not `initial`.
    pub quality_switches: u32,
    /// Bitrate (bit/s) weighted by playing time at a known bitrate, truncated.
    pub average_bitrate: u64,
    /// The view reached its first play/playing.
    pub started: bool,
    /// A fatal error closed the view.
    pub playback_failed: bool,
    /// The view closed before starting, without a fatal error.
    pub exit_before_video_start: bool,
    /// `seek` requests.
    pub seek_count: u32,
    /// Mean seek latency (request → completion) over completed seeks,
    /// seconds; `None` if no seek completed.
    pub average_seek_latency: Option<f64>,
    /// Time the playing clock ran, seconds.
    pub playing_time: f64,
    /// Playing time + rebuffer duration (CTA-2066 watchedTime), seconds.
    pub watch_time: f64,
    /// `load` → close (or now), seconds.
    pub view_time: f64,
    /// Rebuffer duration / watch time, in 0..=1 (0 without watch time).
    pub rebuffer_ratio: f64,
    /// Rebuffers per minute of watch time (0 without watch time).
    pub rebuffer_frequency: f64,
    /// Switches to a higher bitrate (by the event's from → to).
    pub upshifts: u32,
    /// Switches to a lower bitrate (by the event's from → to).
    pub downshifts: u32,
    /// `error` events, fatal or not.
    pub error_count: u32,
    /// 100·8/(8+t), t the initial buffer time; `None` if not started.
    pub startup_score: Option<f64>,
    /// Mean of 100/√(1+(n/2)²) and 100·e^(−10·r), n the rebuffer count and
    /// r the rebuffer ratio; `None` if not started.
    pub smoothness_score: Option<f64>,
    /// 100, 50 for an exit before video start, 0 for a failure.
    pub playback_success_score: f64,
}
