//! The integration rules of docs/EVENTS.md, checked over the records a
//! player's kino sends, in the order they arrive. Each broken rule is a
//! [`Finding`] that holds the record showing it.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A rule of docs/EVENTS.md (or of delivery, CONTRACT.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// A record id seen before (a batch delivered twice).
    DuplicateId,
    /// A sequence number not above the one before it.
    SequenceOrder,
    /// Sequence numbers skipped: records dropped (QUEUE_FULL) or lost.
    SequenceGap,
    /// A timestamp earlier than the record before it.
    TimestampOrder,
    /// `play` with no view open.
    PlayBeforeLoad,
    /// Another playback event with no view open.
    OutsideView,
    /// `rebuffer_end` with no stall and no seek pending.
    RebufferEndWithoutRebuffer,
    /// A seek with no completion before its view closed.
    SeekNeverCompletes,
    /// No heartbeat for too long while the playing clock ran.
    HeartbeatsStopped,
    /// The position moved further than playback allows, with no seek.
    PositionJump,
    /// A view started without a `quality_change` with reason `initial`.
    NoInitialQuality,
    /// A view still open when the stream ended.
    ViewNeverClosed,
}

impl Rule {
    /// Every rule, in report order.
    pub const ALL: [Rule; 12] = [
        Rule::DuplicateId,
        Rule::SequenceOrder,
        Rule::SequenceGap,
        Rule::TimestampOrder,
        Rule::PlayBeforeLoad,
        Rule::OutsideView,
        Rule::RebufferEndWithoutRebuffer,
        Rule::SeekNeverCompletes,
        Rule::HeartbeatsStopped,
        Rule::PositionJump,
        Rule::NoInitialQuality,
        Rule::ViewNeverClosed,
    ];

    /// Short name, as printed.
    pub fn code(self) -> &'static str {
        match self {
            Rule::DuplicateId => "duplicate-id",
            Rule::SequenceOrder => "sequence-order",
            Rule::SequenceGap => "sequence-gap",
            Rule::TimestampOrder => "timestamp-order",
            Rule::PlayBeforeLoad => "play-before-load",
            Rule::OutsideView => "outside-view",
            Rule::RebufferEndWithoutRebuffer => "rebuffer-end-without-rebuffer",
            Rule::SeekNeverCompletes => "seek-never-completes",
            Rule::HeartbeatsStopped => "heartbeats-stopped",
            Rule::PositionJump => "position-jump",
            Rule::NoInitialQuality => "no-initial-quality",
            Rule::ViewNeverClosed => "view-never-closed",
        }
    }

    /// What the rule asks of the player (docs/EVENTS.md).
    pub fn advice(self) -> &'static str {
        match self {
            Rule::DuplicateId => "each record id arrives once; a repeat is a batch delivered twice",
            Rule::SequenceOrder => "sequence numbers rise by one per call",
            Rule::SequenceGap => {
                "a gap is records dropped with QUEUE_FULL (or lost): a bigger queue, or fewer calls"
            }
            Rule::TimestampOrder => "timestamps follow call order; the host clock went back",
            Rule::PlayBeforeLoad => "call kino_emit_load before anything else for that content",
            Rule::OutsideView => {
                "events before the first load or after a view closed affect no figure"
            }
            Rule::RebufferEndWithoutRebuffer => {
                "rebuffer_end ends a stall begun by rebuffer (or a seek's buffering)"
            }
            Rule::SeekNeverCompletes => {
                "a seek completes at the next play, state_change to PLAYING or rebuffer_end"
            }
            Rule::HeartbeatsStopped => {
                "call kino_emit_heartbeat about every 10 s while a view is open"
            }
            Rule::PositionJump => {
                "a position change playback cannot explain needs a kino_emit_seek"
            }
            Rule::NoInitialQuality => {
                "call quality_change once with reason INITIAL for the starting rendition"
            }
            Rule::ViewNeverClosed => {
                "close a view with end, a fatal error, the next load, or kino_emitter_free"
            }
        }
    }

    /// Rules about delivery rather than the player's calls: the ones the
    /// development collector always failed on (its exit status).
    pub fn is_delivery(self) -> bool {
        matches!(self, Rule::DuplicateId | Rule::SequenceOrder)
    }
}

/// One broken rule, and the record that shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub rule: Rule,
    pub session: String,
    /// The view the record belongs to, if any.
    pub view: Option<String>,
    pub sequence: Option<u64>,
    pub at: Option<DateTime<Utc>>,
    pub message: String,
    pub record: Value,
}

/// Tolerances of the timing rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Longest silence between heartbeats while playing, seconds.
    pub heartbeat_gap_s: f64,
    /// Position slack, seconds, either way (rounding, small rewinds).
    pub position_slack_s: f64,
    /// Fastest playback rate expected (media seconds per wall second).
    pub max_rate: f64,
    /// A timestamp this much earlier than the one before is not flagged
    /// (calls racing on two threads), seconds.
    pub clock_slack_s: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            heartbeat_gap_s: 25.0,
            position_slack_s: 2.0,
            max_rate: 2.0,
            clock_slack_s: 0.001,
        }
    }
}

/// The rules over a stream of records, one session at a time.
#[derive(Debug, Default)]
pub struct Checker {
    limits: Limits,
    sessions: HashMap<String, Session>,
}

#[derive(Debug, Default)]
struct Session {
    last_sequence: Option<u64>,
    last_time: Option<DateTime<Utc>>,
    ids: HashSet<String>,
    view: Option<View>,
}

#[derive(Debug)]
struct View {
    id: Option<String>,
    load: Value,
    started: bool,
    paused: bool,
    playing: bool,
    stalled: bool,
    seek: Option<PendingSeek>,
    initial_quality: bool,
    /// Last heartbeat, or when the playing clock last started.
    beat: Option<DateTime<Utc>>,
    beat_reported: bool,
    position: Option<(f64, DateTime<Utc>)>,
}

#[derive(Debug)]
struct PendingSeek {
    record: Value,
    while_paused: bool,
}

/// A record's RFC 3339 timestamp.
pub fn timestamp(record: &Value) -> Option<DateTime<Utc>> {
    let t = record.get("timestamp")?.as_str()?;
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Seconds from `from` to `to` (negative when `to` is earlier), to the
/// nanosecond.
pub fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    let d = to - from;
    d.num_nanoseconds()
        .map_or(d.num_milliseconds() as f64 / 1e3, |n| n as f64 / 1e9)
}

fn text<'a>(record: &'a Value, key: &str) -> &'a str {
    record.get(key).and_then(Value::as_str).unwrap_or("")
}

impl Checker {
    pub fn new(limits: Limits) -> Self {
        Checker {
            limits,
            sessions: HashMap::new(),
        }
    }

    /// Checks one record (in arrival order); the findings it shows.
    pub fn observe(&mut self, record: &Value) -> Vec<Finding> {
        let limits = self.limits;
        let session_id = text(record, "session_id").to_owned();
        let session = self.sessions.entry(session_id.clone()).or_default();
        let mut out = Findings {
            session: &session_id,
            list: Vec::new(),
        };
        let seq = record.get("sequence").and_then(Value::as_u64);
        let at = timestamp(record);

        let id = text(record, "id");
        if !id.is_empty() && !session.ids.insert(id.to_owned()) {
            out.push(
                Rule::DuplicateId,
                record,
                format!("record id {id} arrived before (a retried batch delivered twice?)"),
            );
            return out.list;
        }
        if let (Some(seq), Some(last)) = (seq, session.last_sequence) {
            if seq <= last {
                // Out of order: the player's state cannot be replayed
                // from it, so no other rule looks at it.
                out.push(
                    Rule::SequenceOrder,
                    record,
                    format!("sequence {seq} after {last}"),
                );
                return out.list;
            } else if seq > last + 1 {
                let missing = seq - last - 1;
                out.push(
                    Rule::SequenceGap,
                    record,
                    format!(
                        "sequence jumps from {last} to {seq}: {missing} record{} never arrived",
                        if missing == 1 { "" } else { "s" }
                    ),
                );
            }
        }
        if let Some(seq) = seq {
            session.last_sequence = Some(session.last_sequence.map_or(seq, |l| l.max(seq)));
        }
        if let (Some(at), Some(last)) = (at, session.last_time) {
            let back = seconds(at, last);
            if back > limits.clock_slack_s {
                out.push(
                    Rule::TimestampOrder,
                    record,
                    format!("timestamp {back:.3} s earlier than the record before it"),
                );
            }
        }
        if at.is_some() {
            session.last_time = at;
        }

        let event = text(record, "event");
        match event {
            "load" => {
                if let Some(view) = session.view.take() {
                    view.close(record, at, &limits, &mut out);
                }
                session.view = Some(View::open(record));
                return out.list;
            }
            "qoe" => {
                let closes_open = session.view.as_ref().is_some_and(|v| {
                    v.id.as_deref() == record.get("view_id").and_then(Value::as_str)
                });
                if closes_open {
                    if let Some(view) = session.view.take() {
                        view.close(record, at, &limits, &mut out);
                    }
                }
                return out.list;
            }
            // Kino's own or the host's: allowed anywhere.
            "custom" | "metadata" | "" => return out.list,
            _ => {}
        }
        let Some(view) = session.view.as_mut() else {
            if event == "play" {
                out.push(
                    Rule::PlayBeforeLoad,
                    record,
                    "play with no view open: no load before it (or its view had closed)".into(),
                );
            } else {
                out.push(
                    Rule::OutsideView,
                    record,
                    format!("{event} with no view open: it affects no figure"),
                );
            }
            return out.list;
        };
        if let Some(at) = at {
            view.check_heartbeat(record, at, &limits, &mut out);
            view.check_position(record, event, at, &limits, &mut out);
        }
        let closes = view.apply(record, event, at, &mut out);
        if closes {
            if let Some(view) = session.view.take() {
                view.close(record, at, &limits, &mut out);
            }
        }
        out.list
    }

    /// The rules that need the end of the stream: views still open, and
    /// what they left pending.
    pub fn finish(&mut self) -> Vec<Finding> {
        let limits = self.limits;
        let mut all = Vec::new();
        let mut ids: Vec<&String> = self.sessions.keys().collect();
        ids.sort();
        let ids: Vec<String> = ids.into_iter().cloned().collect();
        for id in ids {
            let session = self.sessions.get_mut(&id).unwrap();
            let Some(view) = session.view.take() else {
                continue;
            };
            let mut out = Findings {
                session: &id,
                list: Vec::new(),
            };
            out.push(
                Rule::ViewNeverClosed,
                &view.load,
                "the view this load opened never closed (no end, fatal error, next load or qoe record)"
                    .into(),
            );
            let last = session.last_time;
            view.close(&Value::Null, last, &limits, &mut out);
            all.extend(out.list);
        }
        all
    }
}

struct Findings<'a> {
    session: &'a str,
    list: Vec<Finding>,
}

impl Findings<'_> {
    fn push(&mut self, rule: Rule, record: &Value, message: String) {
        self.list.push(Finding {
            rule,
            session: self.session.to_owned(),
            view: record
                .get("view_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            sequence: record.get("sequence").and_then(Value::as_u64),
            at: timestamp(record),
            message,
            record: record.clone(),
        });
    }
}

impl View {
    fn open(load: &Value) -> View {
        View {
            id: load
                .get("view_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            load: load.clone(),
            started: false,
            paused: false,
            playing: false,
            stalled: false,
            seek: None,
            initial_quality: false,
            beat: None,
            beat_reported: false,
            position: None,
        }
    }

    fn start_clock(&mut self, at: Option<DateTime<Utc>>) {
        if !self.playing {
            self.playing = true;
            self.beat = at.or(self.beat);
            self.beat_reported = false;
        }
    }

    fn check_heartbeat(
        &mut self,
        record: &Value,
        at: DateTime<Utc>,
        limits: &Limits,
        out: &mut Findings,
    ) {
        let Some(beat) = self.beat else { return };
        let silent = seconds(beat, at);
        if self.playing && !self.beat_reported && silent > limits.heartbeat_gap_s {
            self.beat_reported = true;
            out.push(
                Rule::HeartbeatsStopped,
                record,
                format!("no heartbeat for {silent:.1} s while playing"),
            );
        }
    }

    fn check_position(
        &mut self,
        record: &Value,
        event: &str,
        at: DateTime<Utc>,
        limits: &Limits,
        out: &mut Findings,
    ) {
        if event == "seek" {
            // The seek's target is where playback goes on from.
            if let Some(to) = record.get("to").and_then(Value::as_f64) {
                self.position = Some((to, at));
            }
            return;
        }
        // 0 means "not known yet" (docs/EVENTS.md).
        let Some(pos) = record
            .get("position")
            .and_then(Value::as_f64)
            .filter(|p| *p > 0.0)
        else {
            return;
        };
        if let Some((last, when)) = self.position {
            let wall = seconds(when, at).max(0.0);
            let moved = pos - last;
            if moved < -limits.position_slack_s
                || moved > wall * limits.max_rate + limits.position_slack_s
            {
                out.push(
                    Rule::PositionJump,
                    record,
                    format!(
                        "position went from {last} s to {pos} s in {wall:.1} s of wall time, with no seek"
                    ),
                );
            }
        }
        self.position = Some((pos, at));
    }

    /// Applies one event of this view; true when it closes the view.
    fn apply(
        &mut self,
        record: &Value,
        event: &str,
        at: Option<DateTime<Utc>>,
        out: &mut Findings,
    ) -> bool {
        match event {
            "play" => {
                self.seek = None;
                self.stalled = false;
                self.paused = false;
                self.started = true;
                self.start_clock(at);
            }
            "pause" => {
                self.paused = true;
                self.playing = false;
                self.stalled = false;
            }
            "seek" => {
                self.seek = Some(PendingSeek {
                    record: record.clone(),
                    while_paused: self.paused,
                });
                self.playing = false;
                self.stalled = false;
            }
            "rebuffer" => {
                self.stalled = true;
                self.playing = false;
            }
            "rebuffer_end" => {
                if !self.stalled && self.seek.is_none() {
                    out.push(
                        Rule::RebufferEndWithoutRebuffer,
                        record,
                        "rebuffer_end with no rebuffer (and no seek) before it".into(),
                    );
                }
                self.stalled = false;
                self.seek = None;
                if self.started && !self.paused {
                    self.start_clock(at);
                }
            }
            "state_change" => {
                if text(record, "to") == "playing" {
                    self.seek = None;
                    self.stalled = false;
                    self.paused = false;
                    self.started = true;
                    self.start_clock(at);
                } else {
                    self.playing = false;
                }
            }
            "quality_change" if text(record, "reason") == "initial" => {
                self.initial_quality = true;
            }
            "heartbeat" => {
                self.beat = at.or(self.beat);
                self.beat_reported = false;
            }
            "end" => return true,
            "error" => return record.get("fatal").and_then(Value::as_bool) == Some(true),
            _ => {}
        }
        false
    }

    /// The rules checked when the view closes (at `closing`, which may be
    /// `Null` at the end of the stream).
    fn close(
        mut self,
        closing: &Value,
        at: Option<DateTime<Utc>>,
        limits: &Limits,
        out: &mut Findings,
    ) {
        if let (Some(at), false) = (at, closing.is_null()) {
            self.check_heartbeat(closing, at, limits, out);
        }
        if let Some(seek) = self.seek.take() {
            if !seek.while_paused {
                let from = seek.record.get("from").cloned().unwrap_or(Value::Null);
                let to = seek.record.get("to").cloned().unwrap_or(Value::Null);
                out.push(
                    Rule::SeekNeverCompletes,
                    &seek.record,
                    format!(
                        "seek from {from} to {to} never completed (no play, state_change to playing or rebuffer_end before the view closed)"
                    ),
                );
            }
        }
        if self.started && !self.initial_quality {
            out.push(
                Rule::NoInitialQuality,
                &self.load,
                "the view started without a quality_change with reason initial".into(),
            );
        }
    }
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
