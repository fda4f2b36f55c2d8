//! Per-view QoE tracking (issue 4): a pure state machine fed with an
//! emitter's stamped events, in emit order. No threads, no I/O, no clock:
//! every time is an event's own timestamp (or the `now`/`at` the caller
//! passes), every duration is in seconds.
//!
//! # Views
//! A `load` opens a view with a fresh random `view_id`. The view closes at
//! `end`, at a fatal `error`, at the next `load` (which then opens its own
//! view) or at [`ViewTracker::close`] (emitter free). The closing event
//! belongs to the view it closes. Events outside a view get no `view_id`
//! and change no figure. A closed view is never closed again.
//!
//! # Clocks
//! * **Playing** runs from `play` / `state_change` to `PLAYING`, and from
//!   `rebuffer_end` or a seek's completion unless the user paused (and only
//!   once the view has started). It stops at `pause`, `state_change` to any
//!   other state, `rebuffer`, `seek`, a fatal `error`, `end` and the close.
//!   Heartbeats never start it.
//! * **User pause** lasts from `pause` to the next `play` / `state_change`
//!   to `PLAYING`. An engine `state_change` to `PAUSED` (GStreamer does this
//!   while it buffers or seeks) only stops the playing clock.
//! * **Seek**: from `seek` (the request) to the next `play`, `state_change`
//!   to `PLAYING` or `rebuffer_end`. A seek requested while another is
//!   pending replaces it; the replaced one never completes (it counts in
//!   `seek_count` but adds no latency). A seek still pending at the close
//!   adds no latency either.
//! * **Stall** (rebuffer): from a `rebuffer` after the start, while neither
//!   user-paused nor seeking, to the next `rebuffer_end`, `play`, `pause`,
//!   `state_change` to `PLAYING`, `seek`, or the close. A `seek` ends a
//!   stall because from then on the wait is seek latency (the spec leaves
//!   this case open; counting the time twice would be worse). A stall is
//!   counted when it begins. Its duration is the `rebuffer_end` `duration`
//!   when that is positive (the player measured the stall itself; kino's
//!   timestamps are those of the calls), else the wall time between the
//!   events. A given duration longer than the wall time is kept as given,
//!   so `watch_time` can then exceed `view_time`; the ratio stays in
//!   [0, 1] since `watch_time` includes the stall time.
//!
//! Timestamps that go backwards never panic: every negative duration counts
//! as 0.
//!
//! # Memory
//! Figures are kept as running totals. Only the P.1203 export keeps lists
//! (playing segments per rendition, stalls); each is capped at
//! [`MAX_P1203_ENTRIES`]: consecutive segments of the same rendition are
//! merged, and once a list is full, further time is merged into its last
//! entry (so totals stay right; the rendition or position detail is lost).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::event::{AnalyticsEvent, PlayerState, QualityChangeReason, Resolution, StampedEvent};
use crate::qoe::kino_score;

/// Most entries kept in each P.1203 list (video segments, stalls) per view.
pub(crate) const MAX_P1203_ENTRIES: usize = 10_000;

/// Audio bitrate (kbps, AAC-LC) written in the P.1203 `I11` segments:
/// kino knows nothing about audio, so a fixed, transparent default is used.
pub(crate) const P1203_DEFAULT_AUDIO_KBPS: f64 = 128.0;

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

/// A view that an event (or [`ViewTracker::close`]) just closed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClosedView {
    /// The closed view's id.
    pub view_id: Uuid,
    /// Its final figures.
    pub figures: ViewFigures,
}

/// What [`ViewTracker::observe`] learnt from one event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observed {
    /// The view this event's record belongs to; `None` outside a view.
    pub view_id: Option<Uuid>,
    /// The view this event closed, if any (`end`, fatal `error`, or a
    /// `load` closing the previous view).
    pub closed: Option<ClosedView>,
}

/// Tracks views over an emitter's events; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct ViewTracker {
    open: Option<View>,
    last: Option<View>,
}

impl ViewTracker {
    /// A tracker with no view yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed one event, in emit order. `view_id` = the view this event's
    /// record belongs to (None outside a view). `closed` = a view that this
    /// event closed (end, fatal error, or a `load`, which closes the previous
    /// open view before opening its own new one).
    pub fn observe(&mut self, ev: &StampedEvent) -> Observed {
        let at = ev.timestamp;
        if let AnalyticsEvent::Load { .. } = ev.event {
            let closed = self.close(at);
            let view = View::new(at);
            let view_id = Some(view.id);
            self.open = Some(view);
            return Observed { view_id, closed };
        }
        let Some(view) = self.open.as_mut() else {
            return Observed::default();
        };
        let view_id = Some(view.id);
        let closed = if view.apply(at, &ev.event) {
            self.close(at)
        } else {
            None
        };
        Observed { view_id, closed }
    }

    /// Close the open view at `at` (used when the emitter is freed). None if
    /// no view is open.
    pub fn close(&mut self, at: DateTime<Utc>) -> Option<ClosedView> {
        let mut view = self.open.take()?;
        view.close(at);
        let closed = ClosedView {
            view_id: view.id,
            figures: view.figures(at),
        };
        self.last = Some(view);
        Some(closed)
    }

    /// Figures of the open view as of `now`, else of the last closed view
    /// (as of its close; `now` is then unused), else None.
    pub fn current(&self, now: DateTime<Utc>) -> Option<ViewFigures> {
        self.shown().map(|v| v.figures(now))
    }

    /// The open view (else the last closed one) as input JSON for the
    /// ITU-T P.1203 model, in the format the reference implementation
    /// `itu-p1203` reads (mode 0 metadata); None if no view ever opened.
    ///
    /// ```json
    /// {
    ///   "I11": {"segments": [{"codec": "aaclc", "bitrate": 128.0, "start": 0.0, "duration": 4.0}], "streamId": 1},
    ///   "I13": {"segments": [{"codec": "h264", "bitrate": 1000.0, "fps": 25.0,
    ///                         "resolution": "640x360", "start": 0.0, "duration": 4.0}], "streamId": 1},
    ///   "I23": {"stalling": [[0.0, 2.0], [4.0, 1.0]], "streamId": 1},
    ///   "IGen": {"device": "pc", "displaySize": "1920x1080", "viewingDistance": "150cm"}
    /// }
    /// ```
    ///
    /// Choices:
    /// * `I13`: one segment per playing interval at one rendition
    ///   (consecutive intervals of the same rendition merged), codec
    ///   `"h264"`, the given `fps` (a non-finite or negative `fps` is
    ///   written as 0), bitrate in kbps (bit/s ÷ 1000), duration in seconds.
    ///   `start` is the **cumulative playing time** at the segment's start
    ///   (media time is not reliable across seeks). `resolution` is
    ///   `"WxH"` from the latest `quality_change.to_resolution`; it is
    ///   **omitted** while no resolution is known. Playing time at an
    ///   unknown bitrate gives no segment (the following starts still count
    ///   it).
    /// * `I23`: stalls as `[position, duration]`, position on the same
    ///   cumulative-playing-time axis; the initial buffering (load → first
    ///   play) is a stall at 0 when the view started and it lasted > 0.
    ///   Seek latency is not a stall.
    /// * `I11`: a fixed default audio track, one AAC-LC segment at
    ///   [`P1203_DEFAULT_AUDIO_KBPS`] mirroring each video segment.
    /// * `IGen`: device `"pc"`, display `"1920x1080"`, viewing distance
    ///   `"150cm"`; `streamId` is always 1.
    /// * An open view's pending playing interval and stall run to `now`.
    pub fn p1203_json(&self, fps: f64, now: DateTime<Utc>) -> Option<String> {
        self.shown().map(|v| v.p1203(fps, now).to_string())
    }

    fn shown(&self) -> Option<&View> {
        self.open.as_ref().or(self.last.as_ref())
    }
}

/// Seconds from `from` to `to`, never negative.
fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let delta = to - from;
    let secs = match delta.num_microseconds() {
        Some(us) => us as f64 / 1e6,
        None => delta.num_milliseconds() as f64 / 1e3,
    };
    secs.max(0.0)
}

/// `x` if finite, else 0.
fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

/// The rendition being played, as far as it is known.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Rendition {
    bitrate: Option<u64>,
    resolution: Option<Resolution>,
}

/// One P.1203 video segment: playing time at one rendition.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    start: f64,
    duration: f64,
    rendition: Rendition,
}

/// A stall in progress.
#[derive(Debug, Clone, Copy)]
struct Stall {
    since: DateTime<Utc>,
    /// Cumulative playing time when it began (the P.1203 position).
    position: f64,
}

/// Running totals of a view.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    playing_time: f64,
    bitrate_time: f64,
    bitrate_weighted: f64,
    rebuffer_count: u32,
    rebuffer_duration: f64,
    seek_count: u32,
    seeks_completed: u32,
    seek_latency: f64,
    quality_switches: u32,
    upshifts: u32,
    downshifts: u32,
    error_count: u32,
}

impl Totals {
    fn add_playing(&mut self, duration: f64, bitrate: Option<u64>) {
        self.playing_time += duration;
        if let Some(b) = bitrate {
            self.bitrate_time += duration;
            self.bitrate_weighted += duration * b as f64;
        }
    }
}

/// One view's state.
#[derive(Debug, Clone)]
struct View {
    id: Uuid,
    load_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    failed: bool,
    paused: bool,
    playing_since: Option<DateTime<Utc>>,
    stall: Option<Stall>,
    seek_since: Option<DateTime<Utc>>,
    rendition: Rendition,
    totals: Totals,
    segments: Vec<Segment>,
    stalls: Vec<[f64; 2]>,
}

impl View {
    fn new(load_at: DateTime<Utc>) -> Self {
        View {
            id: Uuid::new_v4(),
            load_at,
            closed_at: None,
            started_at: None,
            failed: false,
            paused: false,
            playing_since: None,
            stall: None,
            seek_since: None,
            rendition: Rendition::default(),
            totals: Totals::default(),
            segments: Vec::new(),
            stalls: Vec::new(),
        }
    }

    /// Applies one event (not `load`); true when it closes the view.
    fn apply(&mut self, at: DateTime<Utc>, event: &AnalyticsEvent) -> bool {
        use AnalyticsEvent as E;
        match event {
            E::Play { .. }
            | E::StateChange {
                to: PlayerState::Playing,
                ..
            } => self.resume(at),
            E::StateChange { .. } => self.stop_playing(at),
            E::Pause { .. } => {
                self.stop_playing(at);
                self.end_stall(at, None);
                self.paused = true;
            }
            E::Seek { .. } => {
                self.stop_playing(at);
                self.end_stall(at, None);
                self.totals.seek_count = self.totals.seek_count.saturating_add(1);
                self.seek_since = Some(at);
            }
            E::Rebuffer { .. } => {
                self.stop_playing(at);
                let stalls = self.started_at.is_some()
                    && !self.paused
                    && self.seek_since.is_none()
                    && self.stall.is_none();
                if stalls {
                    self.totals.rebuffer_count = self.totals.rebuffer_count.saturating_add(1);
                    self.stall = Some(Stall {
                        since: at,
                        position: self.totals.playing_time,
                    });
                }
            }
            E::RebufferEnd { duration, .. } => {
                self.end_stall(at, Some(*duration));
                self.complete_seek(at);
                if !self.paused {
                    self.start_playing(at);
                }
            }
            E::QualityChange {
                from_bitrate,
                to_bitrate,
                to_resolution,
                reason,
                ..
            } => {
                if *reason != QualityChangeReason::Initial {
                    let t = &mut self.totals;
                    t.quality_switches = t.quality_switches.saturating_add(1);
                    if to_bitrate > from_bitrate {
                        t.upshifts = t.upshifts.saturating_add(1);
                    } else if to_bitrate < from_bitrate {
                        t.downshifts = t.downshifts.saturating_add(1);
                    }
                }
                self.set_rendition(at, *to_bitrate, *to_resolution);
            }
            E::Heartbeat { bitrate, .. } => self.set_rendition(at, *bitrate, None),
            E::Error { fatal, .. } => {
                self.totals.error_count = self.totals.error_count.saturating_add(1);
                if *fatal {
                    self.failed = true;
                    return true;
                }
            }
            E::End { .. } => return true,
            E::Load { .. } | E::Custom { .. } | E::Qoe(_) => {}
        }
        false
    }

    /// `play` or `state_change` to `PLAYING`.
    fn resume(&mut self, at: DateTime<Utc>) {
        self.paused = false;
        self.end_stall(at, None);
        self.complete_seek(at);
        if self.started_at.is_none() {
            self.started_at = Some(at);
        }
        self.start_playing(at);
    }

    /// Starts the playing clock if the view started and it is not running.
    fn start_playing(&mut self, at: DateTime<Utc>) {
        if self.started_at.is_some() && self.playing_since.is_none() {
            self.playing_since = Some(at);
        }
    }

    /// Stops the playing clock, banking the interval.
    fn stop_playing(&mut self, at: DateTime<Utc>) {
        if let Some(since) = self.playing_since.take() {
            let duration = seconds_between(since, at);
            let start = self.totals.playing_time;
            self.totals.add_playing(duration, self.rendition.bitrate);
            push_segment(
                &mut self.segments,
                Segment {
                    start,
                    duration,
                    rendition: self.rendition,
                },
            );
        }
    }

    /// Ends a stall in progress; `given` is a `rebuffer_end` duration.
    fn end_stall(&mut self, at: DateTime<Utc>, given: Option<f64>) {
        if let Some(stall) = self.stall.take() {
            let wall = seconds_between(stall.since, at);
            let duration = match given {
                Some(d) if d.is_finite() && d > 0.0 => d,
                _ => wall,
            };
            self.totals.rebuffer_duration += duration;
            push_stall(&mut self.stalls, [stall.position, duration]);
        }
    }

    /// Completes a pending seek.
    fn complete_seek(&mut self, at: DateTime<Utc>) {
        if let Some(since) = self.seek_since.take() {
            let t = &mut self.totals;
            t.seek_latency += seconds_between(since, at);
            t.seeks_completed = t.seeks_completed.saturating_add(1);
        }
    }

    /// A new bitrate (0 = unknown, ignored) and/or resolution: splits the
    /// playing interval when the rendition changes.
    fn set_rendition(&mut self, at: DateTime<Utc>, bitrate: u64, resolution: Option<Resolution>) {
        let next = Rendition {
            bitrate: Some(bitrate).filter(|&b| b > 0).or(self.rendition.bitrate),
            resolution: resolution.or(self.rendition.resolution),
        };
        if next != self.rendition {
            let playing = self.playing_since.is_some();
            self.stop_playing(at);
            self.rendition = next;
            if playing {
                self.playing_since = Some(at);
            }
        }
    }

    fn close(&mut self, at: DateTime<Utc>) {
        self.stop_playing(at);
        self.end_stall(at, None);
        self.seek_since = None;
        self.closed_at = Some(at);
    }

    /// The end of the view's time: its close, else `now`.
    fn end(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.closed_at.unwrap_or(now)
    }

    /// The figures as of `now` (pending clocks run to `now`; for a closed
    /// view there are none and `now` is unused).
    fn figures(&self, now: DateTime<Utc>) -> ViewFigures {
        let end = self.end(now);
        let mut t = self.totals;
        if let Some(since) = self.playing_since {
            t.add_playing(seconds_between(since, end), self.rendition.bitrate);
        }
        if let Some(stall) = self.stall {
            t.rebuffer_duration += seconds_between(stall.since, end);
        }
        let playing_time = finite(t.playing_time);
        let rebuffer_duration = finite(t.rebuffer_duration);
        let watch_time = finite(playing_time + rebuffer_duration);
        let (rebuffer_ratio, rebuffer_frequency) = if watch_time > 0.0 {
            (
                (rebuffer_duration / watch_time).clamp(0.0, 1.0),
                finite(f64::from(t.rebuffer_count) * 60.0 / watch_time),
            )
        } else {
            (0.0, 0.0)
        };
        let average_bitrate = if t.bitrate_time > 0.0 {
            finite(t.bitrate_weighted / t.bitrate_time) as u64
        } else {
            0
        };
        let initial_buffer_time = self
            .started_at
            .map(|s| finite(seconds_between(self.load_at, s)));
        let started = self.started_at.is_some();
        let exit_before_video_start = self.closed_at.is_some() && !started && !self.failed;
        let smoothness = |n: u32, r: f64| {
            let n = f64::from(n);
            let stalls = 100.0 / (1.0 + (n / 2.0).powi(2)).sqrt();
            let ratio = 100.0 * (-10.0 * r).exp();
            finite((stalls + ratio) / 2.0).clamp(0.0, 100.0)
        };
        ViewFigures {
            score: finite(kino_score(
                initial_buffer_time.unwrap_or(0.0),
                t.rebuffer_count,
                rebuffer_duration,
                t.quality_switches,
                average_bitrate,
            )),
            initial_buffer_time,
            rebuffer_count: t.rebuffer_count,
            rebuffer_duration,
            quality_switches: t.quality_switches,
            average_bitrate,
            started,
            playback_failed: self.failed,
            exit_before_video_start,
            seek_count: t.seek_count,
            average_seek_latency: (t.seeks_completed > 0)
                .then(|| finite(t.seek_latency / f64::from(t.seeks_completed))),
            playing_time,
            watch_time,
            view_time: finite(seconds_between(self.load_at, end)),
            rebuffer_ratio,
            rebuffer_frequency,
            upshifts: t.upshifts,
            downshifts: t.downshifts,
            error_count: t.error_count,
            startup_score: initial_buffer_time.map(|s| finite(800.0 / (8.0 + s)).clamp(0.0, 100.0)),
            smoothness_score: started.then(|| smoothness(t.rebuffer_count, rebuffer_ratio)),
            playback_success_score: if self.failed {
                0.0
            } else if exit_before_video_start {
                50.0
            } else {
                100.0
            },
        }
    }

    /// The P.1203 input (see [`ViewTracker::p1203_json`]).
    fn p1203(&self, fps: f64, now: DateTime<Utc>) -> Value {
        let end = self.end(now);
        let mut segments = self.segments.clone();
        if let Some(since) = self.playing_since {
            push_segment(
                &mut segments,
                Segment {
                    start: self.totals.playing_time,
                    duration: seconds_between(since, end),
                    rendition: self.rendition,
                },
            );
        }
        let mut stalls = Vec::with_capacity(self.stalls.len() + 2);
        if let Some(initial) = self.started_at.map(|s| seconds_between(self.load_at, s)) {
            if initial > 0.0 {
                stalls.push([0.0, initial]);
            }
        }
        stalls.extend_from_slice(&self.stalls);
        if let Some(stall) = self.stall {
            stalls.push([stall.position, seconds_between(stall.since, end)]);
        }
        let fps = if fps.is_finite() && fps > 0.0 {
            fps
        } else {
            0.0
        };
        let known: Vec<(&Segment, u64)> = segments
            .iter()
            .filter_map(|s| s.rendition.bitrate.map(|b| (s, b)))
            .collect();
        let video: Vec<Value> = known
            .iter()
            .map(|(s, bitrate)| {
                let mut v = json!({
                    "codec": "h264",
                    "bitrate": *bitrate as f64 / 1000.0,
                    "fps": fps,
                    "start": finite(s.start),
                    "duration": finite(s.duration),
                });
                if let Some(r) = s.rendition.resolution {
                    v["resolution"] = json!(format!("{}x{}", r.width, r.height));
                }
                v
            })
            .collect();
        let audio: Vec<Value> = known
            .iter()
            .map(|(s, _)| {
                json!({
                    "codec": "aaclc",
                    "bitrate": P1203_DEFAULT_AUDIO_KBPS,
                    "start": finite(s.start),
                    "duration": finite(s.duration),
                })
            })
            .collect();
        let stalling: Vec<[f64; 2]> = stalls
            .iter()
            .map(|[p, d]| [finite(*p), finite(*d)])
            .collect();
        json!({
            "I11": {"segments": audio, "streamId": 1},
            "I13": {"segments": video, "streamId": 1},
            "I23": {"stalling": stalling, "streamId": 1},
            "IGen": {"device": "pc", "displaySize": "1920x1080", "viewingDistance": "150cm"},
        })
    }
}

/// Appends a playing interval: merged into the last segment when the
/// rendition is the same or the list is full; empty intervals are dropped.
fn push_segment(list: &mut Vec<Segment>, seg: Segment) {
    if seg.duration <= 0.0 {
        return;
    }
    let full = list.len() >= MAX_P1203_ENTRIES;
    match list.last_mut() {
        Some(last) if full || last.rendition == seg.rendition => last.duration += seg.duration,
        _ => list.push(seg),
    }
}

/// Appends a stall; once the list is full, its time goes to the last one.
fn push_stall(list: &mut Vec<[f64; 2]>, stall: [f64; 2]) {
    let full = list.len() >= MAX_P1203_ENTRIES;
    match list.last_mut() {
        Some(last) if full => last[1] += stall[1],
        _ => list.push(stall),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AnalyticsEvent as E;

    const T0: i64 = 1_700_000_000_000;

    fn ts(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(T0 + ms).unwrap()
    }

    fn at(ms: i64, event: AnalyticsEvent) -> StampedEvent {
        StampedEvent {
            sequence: 0,
            timestamp: ts(ms),
            event,
            reserved_qoe_sequence: 0,
        }
    }

    fn load() -> E {
        E::Load {
            url: "https://cdn.example/v.m3u8".into(),
            is_live: false,
        }
    }
    fn play() -> E {
        E::Play { position: 0.0 }
    }
    fn pause() -> E {
        E::Pause { position: 0.0 }
    }
    fn seek() -> E {
        E::Seek {
            from: 0.0,
            to: 60.0,
        }
    }
    fn rebuffer() -> E {
        E::Rebuffer {
            position: 0.0,
            buffer_level: 0.0,
        }
    }
    fn rebuffer_end(duration: f64) -> E {
        E::RebufferEnd {
            position: 0.0,
            duration,
        }
    }
    fn state(from: PlayerState, to: PlayerState) -> E {
        E::StateChange {
            from,
            to,
            position: 0.0,
        }
    }
    fn res(width: u32, height: u32) -> Option<Resolution> {
        Some(Resolution { width, height })
    }
    fn quality(from: u64, to: u64, to_res: Option<Resolution>, reason: QualityChangeReason) -> E {
        E::QualityChange {
            from_bitrate: from,
            to_bitrate: to,
            from_resolution: None,
            to_resolution: to_res,
            reason,
        }
    }
    fn heartbeat(bitrate: u64) -> E {
        E::Heartbeat {
            position: 0.0,
            buffer_level: 5.0,
            bitrate,
            dropped_frames: 0,
            decoded_frames: 0,
        }
    }
    fn end() -> E {
        E::End {
            position: 0.0,
            watch_time: 999.0,
        }
    }
    fn error(fatal: bool) -> E {
        E::Error {
            code: "E1".into(),
            message: "boom".into(),
            fatal,
            position: 0.0,
        }
    }

    /// Feeds the events; returns the tracker and every `Observed`.
    fn run(events: Vec<StampedEvent>) -> (ViewTracker, Vec<Observed>) {
        let mut t = ViewTracker::new();
        let seen = events.iter().map(|e| t.observe(e)).collect();
        (t, seen)
    }

    /// The figures of the only view, closed by the last event.
    fn closed_figures(events: Vec<StampedEvent>) -> ViewFigures {
        let (_, seen) = run(events);
        let closed: Vec<_> = seen.into_iter().filter_map(|o| o.closed).collect();
        assert_eq!(closed.len(), 1, "one view closed");
        closed.into_iter().next().unwrap().figures
    }

    fn approx(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn clean_view() {
        let f = closed_figures(vec![
            at(0, load()),
            at(
                500,
                quality(0, 3_000_000, res(1280, 720), QualityChangeReason::Initial),
            ),
            at(1000, play()),
            at(11_000, heartbeat(3_000_000)),
            at(21_000, end()),
        ]);
        let expected = ViewFigures {
            score: 100.0,
            initial_buffer_time: Some(1.0),
            rebuffer_count: 0,
            rebuffer_duration: 0.0,
            quality_switches: 0,
            average_bitrate: 3_000_000,
            started: true,
            playback_failed: false,
            exit_before_video_start: false,
            seek_count: 0,
            average_seek_latency: None,
            playing_time: 20.0,
            watch_time: 20.0,
            view_time: 21.0,
            rebuffer_ratio: 0.0,
            rebuffer_frequency: 0.0,
            upshifts: 0,
            downshifts: 0,
            error_count: 0,
            startup_score: Some(800.0 / 9.0),
            smoothness_score: Some(100.0),
            playback_success_score: 100.0,
        };
        assert_eq!(f, expected);
    }

    #[test]
    fn slow_startup() {
        let f = closed_figures(vec![at(0, load()), at(5000, play()), at(15_000, end())]);
        assert_eq!(f.initial_buffer_time, Some(5.0));
        assert_eq!(f.score, 85.0);
        approx(f.startup_score.unwrap(), 800.0 / 13.0);
        assert_eq!(f.average_bitrate, 0, "no bitrate known");
        assert_eq!(f.playing_time, 10.0);
        assert_eq!(f.view_time, 15.0);
        assert_eq!(f.smoothness_score, Some(100.0));
    }

    #[test]
    fn rebuffers_with_and_without_given_durations() {
        let f = closed_figures(vec![
            at(0, load()),
            at(1000, play()),
            at(11_000, rebuffer()),
            at(13_000, rebuffer_end(1.5)), // given, shorter than the 2 s wall time
            at(23_000, rebuffer()),
            at(26_000, rebuffer_end(0.0)), // not given: 3 s wall time
            at(31_000, end()),
        ]);
        assert_eq!(f.rebuffer_count, 2);
        approx(f.rebuffer_duration, 4.5);
        approx(f.playing_time, 25.0);
        approx(f.watch_time, 29.5);
        approx(f.rebuffer_ratio, 4.5 / 29.5);
        approx(f.rebuffer_frequency, 2.0 * 60.0 / 29.5);
        approx(f.score, 100.0 - 20.0 - 22.5);
        let smooth = (100.0 / 2f64.sqrt() + 100.0 * (-10.0 * 4.5 / 29.5f64).exp()) / 2.0;
        approx(f.smoothness_score.unwrap(), smooth);
        assert_eq!(f.view_time, 31.0);
    }

    #[test]
    fn a_given_duration_is_taken_as_the_player_measured_it() {
        let f = closed_figures(vec![
            at(0, load()),
            at(0, play()),
            at(1000, rebuffer()),
            at(3000, rebuffer_end(10.0)),
            at(5000, end()),
        ]);
        assert_eq!(f.rebuffer_duration, 10.0);
        assert_eq!(f.playing_time, 3.0);
        assert_eq!(f.watch_time, 13.0);
        approx(f.rebuffer_ratio, 10.0 / 13.0);
    }

    #[test]
    fn a_seek_that_stalls_is_seek_latency() {
        let f = closed_figures(vec![
            at(0, load()),
            at(1000, play()),
            at(11_000, seek()),
            at(11_500, rebuffer()), // during the seek: not a stall
            at(13_000, rebuffer_end(1.5)),
            at(18_000, seek()),
            at(18_500, state(PlayerState::Seeking, PlayerState::Playing)),
            at(23_000, end()),
        ]);
        assert_eq!(f.rebuffer_count, 0);
        assert_eq!(f.rebuffer_duration, 0.0);
        assert_eq!(f.seek_count, 2);
        assert_eq!(f.average_seek_latency, Some(1.25));
        approx(f.playing_time, 19.5);
        assert_eq!(f.watch_time, f.playing_time);
    }

    #[test]
    fn a_seek_during_a_stall_ends_the_stall() {
        let f = closed_figures(vec![
            at(0, load()),
            at(0, play()),
            at(2000, rebuffer()),
            at(3000, seek()),
            at(5000, rebuffer_end(0.0)),
            at(6000, end()),
        ]);
        assert_eq!(f.rebuffer_count, 1);
        assert_eq!(f.rebuffer_duration, 1.0);
        assert_eq!(f.average_seek_latency, Some(2.0));
        assert_eq!(f.playing_time, 3.0);
    }

    #[test]
    fn pause_during_playback() {
        let f = closed_figures(vec![
            at(0, load()),
            at(1000, play()),
            at(5000, pause()),
            at(8000, play()),
            at(10_000, end()),
        ]);
        assert_eq!(f.playing_time, 6.0);
        assert_eq!(f.watch_time, 6.0);
        assert_eq!(f.view_time, 10.0);
        assert_eq!(f.rebuffer_count, 0);
        assert_eq!(f.score, 100.0);
    }

    #[test]
    fn while_paused_no_stall_no_clock_and_a_seek_never_completes() {
        let f = closed_figures(vec![
            at(0, load()),
            at(0, play()),
            at(2000, pause()),
            at(2500, rebuffer()),        // ignored: paused
            at(3000, rebuffer_end(0.0)), // does not resume
            at(3500, seek()),            // never completes
            at(6000, end()),
        ]);
        assert_eq!(f.playing_time, 2.0);
        assert_eq!(f.rebuffer_count, 0);
        assert_eq!(f.seek_count, 1);
        assert_eq!(f.average_seek_latency, None);
    }

    #[test]
    fn a_rebuffer_ended_by_pause() {
        let f = closed_figures(vec![
            at(0, load()),
            at(1000, play()),
            at(3000, rebuffer()),
            at(4500, pause()),
            at(6000, play()),
            at(8000, end()),
        ]);
        assert_eq!(f.rebuffer_count, 1);
        assert_eq!(f.rebuffer_duration, 1.5);
        assert_eq!(f.playing_time, 4.0);
        assert_eq!(f.watch_time, 5.5);
    }

    #[test]
    fn engine_states_are_not_user_pauses_nor_stalls() {
        use PlayerState::*;
        let f = closed_figures(vec![
            at(0, load()),
            at(1000, play()),
            at(3000, rebuffer()),
            at(3000, state(Playing, Paused)), // GStreamer buffering pause
            at(3500, state(Paused, Buffering)),
            at(5000, state(Buffering, Playing)), // ends the stall
            at(7000, state(Playing, Paused)),    // clock stops
            at(8000, rebuffer_end(0.0)),         // no stall open; resumes
            at(10_000, end()),
        ]);
        assert_eq!(f.rebuffer_count, 1);
        assert_eq!(f.rebuffer_duration, 2.0);
        assert_eq!(f.playing_time, 6.0);

        let f = closed_figures(vec![
            at(0, load()),
            at(0, play()),
            at(1000, state(Playing, Buffering)),
            at(2000, state(Buffering, Playing)),
            at(3000, end()),
        ]);
        assert_eq!(f.rebuffer_count, 0, "BUFFERING alone is not a stall");
        assert_eq!(f.playing_time, 2.0);
    }

    #[test]
    fn quality_ladder_up_and_down() {
        use QualityChangeReason::*;
        let f = closed_figures(vec![
            at(0, load()),
            at(0, quality(0, 1_000_000, res(640, 360), Initial)),
            at(1000, play()),
            at(5000, quality(1_000_000, 3_000_000, res(1280, 720), Abr)),
            at(9000, quality(3_000_000, 6_000_000, res(1920, 1080), Abr)),
            at(
                13_000,
                quality(6_000_000, 3_000_000, res(1280, 720), Buffer),
            ),
            at(
                15_000,
                quality(3_000_000, 3_000_000, res(1280, 720), Manual),
            ),
            at(21_000, end()),
        ]);
        assert_eq!(f.quality_switches, 4);
        assert_eq!(f.upshifts, 2);
        assert_eq!(f.downshifts, 1);
        // (4·1 + 4·3 + 4·6 + 2·3 + 6·3) Mbit / 20 s
        assert_eq!(f.average_bitrate, 3_200_000);
        assert_eq!(f.score, 100.0 - 8.0 + 2.0);
    }

    #[test]
    fn a_switch_before_start_counts() {
        let f = closed_figures(vec![
            at(0, load()),
            at(500, quality(0, 1_000_000, None, QualityChangeReason::Abr)),
            at(1000, end()),
        ]);
        assert_eq!(f.quality_switches, 1);
        assert_eq!(f.upshifts, 1);
        assert!(f.exit_before_video_start);
    }

    #[test]
    fn fatal_error_before_start() {
        let (t, seen) = run(vec![at(0, load()), at(3000, error(true)), at(4000, play())]);
        let id = seen[0].view_id.unwrap();
        assert_eq!(
            seen[1].view_id,
            Some(id),
            "the closing error belongs to the view"
        );
        let closed = seen[1].closed.clone().unwrap();
        assert_eq!(closed.view_id, id);
        let f = closed.figures;
        assert!(f.playback_failed);
        assert!(!f.started);
        assert!(!f.exit_before_video_start);
        assert_eq!(f.initial_buffer_time, None);
        assert_eq!(f.startup_score, None);
        assert_eq!(f.smoothness_score, None);
        assert_eq!(f.playback_success_score, 0.0);
        assert_eq!(f.error_count, 1);
        assert_eq!(f.view_time, 3.0);
        assert_eq!(f.score, 100.0, "initial buffer counts as 0");
        assert_eq!(seen[2], Observed::default(), "after the close: no view");
        assert_eq!(
            t.current(ts(60_000)),
            Some(f),
            "last closed view, unchanged"
        );
    }

    #[test]
    fn fatal_error_after_start() {
        let f = closed_figures(vec![
            at(0, load()),
            at(1000, play()),
            at(2000, error(false)),
            at(5000, error(true)),
        ]);
        assert!(f.playback_failed && f.started);
        assert!(!f.exit_before_video_start);
        assert_eq!(f.error_count, 2);
        assert_eq!(f.playing_time, 4.0);
        assert_eq!(f.playback_success_score, 0.0);
        approx(f.startup_score.unwrap(), 800.0 / 9.0);
    }

    #[test]
    fn load_then_load_gives_two_views() {
        let (_, seen) = run(vec![
            at(0, load()),
            at(1000, play()),
            at(5000, load()),
            at(7000, end()),
        ]);
        let first = seen[0].view_id.unwrap();
        let second = seen[2].view_id.unwrap();
        assert_ne!(first, second);
        assert_eq!(seen[1].view_id, Some(first));
        let a = seen[2].closed.clone().unwrap();
        assert_eq!(a.view_id, first);
        assert_eq!(a.figures.playing_time, 4.0);
        assert_eq!(a.figures.view_time, 5.0);
        assert!(!a.figures.exit_before_video_start);
        assert_eq!(seen[3].view_id, Some(second));
        let b = seen[3].closed.clone().unwrap();
        assert_eq!(b.view_id, second);
        assert!(b.figures.exit_before_video_start);
        assert_eq!(b.figures.playback_success_score, 50.0);
        assert_eq!(b.figures.view_time, 2.0);
        assert_eq!(b.figures.playing_time, 0.0);
    }

    #[test]
    fn closed_before_start_without_error() {
        let f = closed_figures(vec![at(0, load()), at(2000, end())]);
        assert!(f.exit_before_video_start);
        assert!(!f.playback_failed && !f.started);
        assert_eq!(f.playback_success_score, 50.0);
        assert_eq!(f.initial_buffer_time, None);
        assert_eq!(f.score, 100.0);
        assert_eq!(f.view_time, 2.0);
    }

    #[test]
    fn events_before_the_first_load_have_no_view() {
        let (t, seen) = run(vec![at(0, play()), at(1000, heartbeat(1)), at(2000, end())]);
        assert!(seen.iter().all(|o| *o == Observed::default()));
        assert_eq!(t.current(ts(3000)), None);
        assert_eq!(t.p1203_json(25.0, ts(3000)), None);
    }

    #[test]
    fn close_twice_returns_none_the_second_time() {
        let (mut t, _) = run(vec![at(0, load()), at(1000, play())]);
        let closed = t.close(ts(3000)).unwrap();
        assert_eq!(closed.figures.playing_time, 2.0);
        assert!(t.close(ts(4000)).is_none());
        assert_eq!(t.current(ts(9000)), Some(closed.figures));

        let (mut t, _) = run(vec![at(0, load()), at(1000, end())]);
        assert!(t.close(ts(2000)).is_none(), "end already closed it");
    }

    #[test]
    fn heartbeat_bitrate_weighting() {
        let f = closed_figures(vec![
            at(0, load()),
            at(0, play()),
            at(2000, heartbeat(2_000_000)), // the first 2 s have no known bitrate
            at(6000, heartbeat(4_000_000)),
            at(8000, heartbeat(0)), // ignored
            at(10_000, end()),
        ]);
        assert_eq!(f.playing_time, 10.0);
        assert_eq!(f.average_bitrate, 3_000_000); // (4·2 + 4·4) / 8
    }

    #[test]
    fn current_runs_open_clocks_to_now() {
        let (t, _) = run(vec![at(0, load()), at(1000, play()), at(3000, rebuffer())]);
        let f = t.current(ts(5000)).unwrap();
        assert_eq!(f.playing_time, 2.0);
        assert_eq!(f.rebuffer_count, 1);
        assert_eq!(f.rebuffer_duration, 2.0);
        assert_eq!(f.watch_time, 4.0);
        assert_eq!(f.view_time, 5.0);
        assert!(!f.exit_before_video_start);
        assert_eq!(f.playback_success_score, 100.0);
    }

    #[test]
    fn backwards_timestamps_count_as_zero() {
        let f = closed_figures(vec![
            at(10_000, load()),
            at(5000, play()),
            at(3000, rebuffer()),
            at(1000, rebuffer_end(0.0)), // no given duration: wall time, backwards
            at(0, end()),
        ]);
        assert_eq!(f.initial_buffer_time, Some(0.0));
        assert_eq!(f.playing_time, 0.0);
        assert_eq!(f.rebuffer_duration, 0.0);
        assert_eq!(f.view_time, 0.0);
        assert_eq!(f.rebuffer_ratio, 0.0);
        assert_eq!(f.rebuffer_frequency, 0.0);
    }

    #[test]
    fn json_names_order_and_nulls() {
        let f = closed_figures(vec![at(0, load()), at(2000, end())]);
        let text = serde_json::to_string(&f).unwrap();
        let names = [
            "score",
            "initial_buffer_time",
            "rebuffer_count",
            "rebuffer_duration",
            "quality_switches",
            "average_bitrate",
            "started",
            "playback_failed",
            "exit_before_video_start",
            "seek_count",
            "average_seek_latency",
            "playing_time",
            "watch_time",
            "view_time",
            "rebuffer_ratio",
            "rebuffer_frequency",
            "upshifts",
            "downshifts",
            "error_count",
            "startup_score",
            "smoothness_score",
            "playback_success_score",
        ];
        let positions: Vec<usize> = names
            .iter()
            .map(|n| {
                text.find(&format!("\"{n}\":"))
                    .unwrap_or_else(|| panic!("{n} missing"))
            })
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "order: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.as_object().unwrap().len(), names.len());
        for n in [
            "initial_buffer_time",
            "average_seek_latency",
            "startup_score",
            "smoothness_score",
        ] {
            assert!(v[n].is_null(), "{n} should be null");
        }
        assert_eq!(v["score"], 100.0);
        assert_eq!(v["exit_before_video_start"], true);
        assert_eq!(v["average_bitrate"], 0);
    }

    #[test]
    fn p1203_structure() {
        use QualityChangeReason::*;
        let (t, _) = run(vec![
            at(0, load()),
            at(0, quality(0, 1_000_000, res(640, 360), Initial)),
            at(2000, play()),
            at(6000, quality(1_000_000, 3_000_000, res(1280, 720), Abr)),
            at(10_000, rebuffer()),
            at(11_000, rebuffer_end(0.0)),
            at(15_000, end()),
        ]);
        let text = t.p1203_json(24.0, ts(99_000)).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["I13"],
            json!({"streamId": 1, "segments": [
                {"codec": "h264", "bitrate": 1000.0, "fps": 24.0, "resolution": "640x360",
                 "start": 0.0, "duration": 4.0},
                {"codec": "h264", "bitrate": 3000.0, "fps": 24.0, "resolution": "1280x720",
                 "start": 4.0, "duration": 8.0},
            ]})
        );
        assert_eq!(
            v["I23"],
            json!({"streamId": 1, "stalling": [[0.0, 2.0], [8.0, 1.0]]})
        );
        assert_eq!(
            v["I11"],
            json!({"streamId": 1, "segments": [
                {"codec": "aaclc", "bitrate": 128.0, "start": 0.0, "duration": 4.0},
                {"codec": "aaclc", "bitrate": 128.0, "start": 4.0, "duration": 8.0},
            ]})
        );
        assert_eq!(
            v["IGen"],
            json!({"device": "pc", "displaySize": "1920x1080", "viewingDistance": "150cm"})
        );
    }

    #[test]
    fn p1203_open_view_without_resolution() {
        let (t, _) = run(vec![
            at(0, load()),
            at(0, play()),
            at(0, heartbeat(2_000_000)),
            at(3000, rebuffer()),
            at(4000, rebuffer_end(0.0)),
        ]);
        let v: Value = serde_json::from_str(&t.p1203_json(30.0, ts(6000)).unwrap()).unwrap();
        assert_eq!(
            v["I13"]["segments"],
            json!([{"codec": "h264", "bitrate": 2000.0, "fps": 30.0, "start": 0.0, "duration": 5.0}])
        );
        assert_eq!(
            v["I23"]["stalling"],
            json!([[3.0, 1.0]]),
            "no initial stall"
        );
    }

    #[test]
    fn p1203_lists_are_capped() {
        let mut events = vec![at(0, load()), at(0, play())];
        for i in 1..=(MAX_P1203_ENTRIES as i64 + 5000) {
            let (from, to) = if i % 2 == 0 { (2, 1) } else { (1, 2) };
            events.push(at(i, quality(from, to, None, QualityChangeReason::Abr)));
            events.push(at(i, rebuffer()));
            events.push(at(i, play()));
        }
        let (mut t, _) = run(events);
        let closed = t.close(ts(20_000)).unwrap();
        let view = t.last.as_ref().unwrap();
        assert_eq!(view.segments.len(), MAX_P1203_ENTRIES);
        assert_eq!(view.stalls.len(), MAX_P1203_ENTRIES);
        let total: f64 = view.segments.iter().map(|s| s.duration).sum();
        approx(total, closed.figures.playing_time);
        approx(closed.figures.playing_time, 20.0);
    }
}
