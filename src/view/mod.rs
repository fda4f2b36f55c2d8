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
//! Every time here is a [`Mono`] reading (monotonic, taken on the caller's
//! thread at each call), never the wall clock: an NTP step or a user
//! changing the clock mid-view changes no figure. Readings that go
//! backwards never panic: every negative duration counts as 0.
//!
//! # Memory
//! Figures are kept as running totals. Only the P.1203 export keeps lists
//! (playing segments per rendition, stalls); each is capped at
//! [`MAX_P1203_ENTRIES`]: consecutive segments of the same rendition are
//! merged, and once a list is full, further time is merged into its last
//! entry (so totals stay right; the rendition or position detail is lost).

mod p1203;
mod state;
#[cfg(test)]
mod tests;

use serde::Serialize;
use uuid::Uuid;

use crate::clock::Mono;
use crate::event::{AnalyticsEvent, StampedEvent};
pub use crate::figures::ViewFigures;
use state::View;

/// Most entries kept in each P.1203 list (video segments, stalls) per view.
pub(crate) const MAX_P1203_ENTRIES: usize = 10_000;

/// Audio bitrate (kbps, AAC-LC) written in the P.1203 `I11` segments:
/// kino knows nothing about audio, so a fixed, transparent default is used.
pub(crate) const P1203_DEFAULT_AUDIO_KBPS: f64 = 128.0;

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

/// What the open view tells a CMCD request ([`ViewTracker::cmcd`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CmcdView {
    /// The open view's id.
    pub view_id: Uuid,
    /// Its load said live.
    pub live: bool,
    /// The current rendition's bitrate (bit/s), if known.
    pub bitrate: Option<u64>,
    /// The last reported buffer level, seconds.
    pub buffer_level: Option<f64>,
    /// Before the first frame, or stalled now.
    pub startup: bool,
    /// Stalls begun in this view so far (CMCD `bs`: one begun since the
    /// last request).
    pub stalls: u32,
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
        let at = ev.mono;
        if let AnalyticsEvent::Load { is_live, .. } = ev.event {
            let closed = self.close(at);
            let mut view = View::new(at);
            view.live = is_live;
            let view_id = Some(view.id);
            self.open = Some(view);
            return Observed { view_id, closed };
        }
        let Some(view) = self.open.as_mut() else {
            return Observed::default();
        };
        let view_id = Some(view.id);
        let closes = view.apply(at, &ev.event);
        let closed = if closes { self.close(at) } else { None };
        Observed { view_id, closed }
    }

    /// The open view's id, if one is open.
    pub fn open_view_id(&self) -> Option<Uuid> {
        self.open.as_ref().map(|v| v.id)
    }

    /// What a CMCD request says about the open view; `None` outside a view.
    pub fn cmcd(&self) -> Option<CmcdView> {
        self.open.as_ref().map(|v| CmcdView {
            view_id: v.id,
            live: v.live,
            bitrate: v.rendition.bitrate,
            buffer_level: v.buffer_level,
            startup: v.started_at.is_none() || v.stall.is_some(),
            stalls: v.totals.rebuffer_count,
        })
    }

    /// Close the open view at `at` (used when the emitter is freed). None if
    /// no view is open.
    pub fn close(&mut self, at: Mono) -> Option<ClosedView> {
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
    pub fn current(&self, now: Mono) -> Option<ViewFigures> {
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
    pub fn p1203_json(&self, fps: f64, now: Mono) -> Option<String> {
        self.shown().map(|v| v.p1203(fps, now).to_string())
    }

    fn shown(&self) -> Option<&View> {
        self.open.as_ref().or(self.last.as_ref())
    }
}
