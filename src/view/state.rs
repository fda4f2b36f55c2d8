//! One view's state machine: the clocks and running totals of the module
//! docs, and the figures they give.

use uuid::Uuid;

use super::MAX_P1203_ENTRIES;
use crate::clock::Mono;
use crate::event::{AnalyticsEvent, PlayerState, QualityChangeReason, Resolution};
use crate::figures::ViewFigures;
use crate::qoe::kino_score;

/// Seconds from `from` to `to`, never negative.
pub(super) fn seconds_between(from: Mono, to: Mono) -> f64 {
    to.seconds_since(from)
}

/// `x` if finite, else 0.
pub(super) fn finite(x: f64) -> f64 {
    if x.is_finite() {
        x
    } else {
        0.0
    }
}

/// The rendition being played, as far as it is known.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct Rendition {
    pub(super) bitrate: Option<u64>,
    pub(super) resolution: Option<Resolution>,
}

/// One P.1203 video segment: playing time at one rendition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Segment {
    pub(super) start: f64,
    pub(super) duration: f64,
    pub(super) rendition: Rendition,
}

/// A stall in progress.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stall {
    pub(super) since: Mono,
    /// Cumulative playing time when it began (the P.1203 position).
    pub(super) position: f64,
}

/// Running totals of a view.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Totals {
    pub(super) playing_time: f64,
    pub(super) bitrate_time: f64,
    pub(super) bitrate_weighted: f64,
    pub(super) rebuffer_count: u32,
    pub(super) rebuffer_duration: f64,
    pub(super) seek_count: u32,
    pub(super) seeks_completed: u32,
    pub(super) seek_latency: f64,
    pub(super) quality_switches: u32,
    pub(super) upshifts: u32,
    pub(super) downshifts: u32,
    pub(super) error_count: u32,
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
pub(super) struct View {
    pub(super) id: Uuid,
    pub(super) load_at: Mono,
    pub(super) closed_at: Option<Mono>,
    pub(super) started_at: Option<Mono>,
    pub(super) failed: bool,
    pub(super) paused: bool,
    pub(super) playing_since: Option<Mono>,
    pub(super) stall: Option<Stall>,
    pub(super) seek_since: Option<Mono>,
    pub(super) rendition: Rendition,
    pub(super) totals: Totals,
    pub(super) segments: Vec<Segment>,
    pub(super) stalls: Vec<[f64; 2]>,
    /// The load said live (CMCD `st`).
    pub(super) live: bool,
    /// The last buffer level a heartbeat or rebuffer reported, seconds
    /// (CMCD `bl`).
    pub(super) buffer_level: Option<f64>,
}

impl View {
    pub(super) fn new(load_at: Mono) -> Self {
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
            live: false,
            buffer_level: None,
        }
    }

    /// Applies one event (not `load`); true when it closes the view.
    pub(super) fn apply(&mut self, at: Mono, event: &AnalyticsEvent) -> bool {
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
            E::Rebuffer { buffer_level, .. } => {
                self.buffer_level = Some(*buffer_level);
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
            E::Heartbeat {
                bitrate,
                buffer_level,
                ..
            } => {
                self.buffer_level = Some(*buffer_level);
                self.set_rendition(at, *bitrate, None);
            }
            E::Error { fatal, .. } => {
                self.totals.error_count = self.totals.error_count.saturating_add(1);
                if *fatal {
                    self.failed = true;
                    return true;
                }
            }
            E::End { .. } => return true,
            E::Load { .. } | E::Custom { .. } | E::Qoe(_) | E::Metadata { .. } => {}
        }
        false
    }

    /// `play` or `state_change` to `PLAYING`.
    fn resume(&mut self, at: Mono) {
        self.paused = false;
        self.end_stall(at, None);
        self.complete_seek(at);
        if self.started_at.is_none() {
            self.started_at = Some(at);
        }
        self.start_playing(at);
    }

    /// Starts the playing clock if the view started and it is not running.
    fn start_playing(&mut self, at: Mono) {
        if self.started_at.is_some() && self.playing_since.is_none() {
            self.playing_since = Some(at);
        }
    }

    /// Stops the playing clock, banking the interval.
    fn stop_playing(&mut self, at: Mono) {
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
    fn end_stall(&mut self, at: Mono, given: Option<f64>) {
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
    fn complete_seek(&mut self, at: Mono) {
        if let Some(since) = self.seek_since.take() {
            let t = &mut self.totals;
            t.seek_latency += seconds_between(since, at);
            t.seeks_completed = t.seeks_completed.saturating_add(1);
        }
    }

    /// A new bitrate (0 = unknown, ignored) and/or resolution: splits the
    /// playing interval when the rendition changes.
    fn set_rendition(&mut self, at: Mono, bitrate: u64, resolution: Option<Resolution>) {
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

    pub(super) fn close(&mut self, at: Mono) {
        self.stop_playing(at);
        self.end_stall(at, None);
        self.seek_since = None;
        self.closed_at = Some(at);
    }

    /// The end of the view's time: its close, else `now`.
    pub(super) fn end(&self, now: Mono) -> Mono {
        self.closed_at.unwrap_or(now)
    }

    /// The figures as of `now` (pending clocks run to `now`; for a closed
    /// view there are none and `now` is unused).
    pub(super) fn figures(&self, now: Mono) -> ViewFigures {
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
}

/// Appends a playing interval: merged into the last segment when the
/// rendition is the same or the list is full; empty intervals are dropped.
pub(super) fn push_segment(list: &mut Vec<Segment>, seg: Segment) {
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
pub(super) fn push_stall(list: &mut Vec<[f64; 2]>, stall: [f64; 2]) {
    let full = list.len() >= MAX_P1203_ENTRIES;
    match list.last_mut() {
        Some(last) if full => last[1] += stall[1],
        _ => list.push(stall),
    }
}
