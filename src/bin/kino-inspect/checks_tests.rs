//! Scripted streams: one that keeps every rule, and one per rule that
//! breaks it (and only it).

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::{Checker, Finding, Limits, Rule};

/// Builds records as kino stamps them: sequence numbers, timestamps
/// (seconds after a fixed start), view ids from a load to the view's close.
struct Script {
    session: String,
    sequence: u64,
    start: DateTime<Utc>,
    view: Option<String>,
    last_view: Option<String>,
    views: u64,
    records: Vec<Value>,
}

impl Script {
    fn new() -> Script {
        Script {
            session: "5e55a0e0-0000-4000-8000-000000000001".into(),
            sequence: 0,
            start: DateTime::parse_from_rfc3339("2026-11-25T14:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            view: None,
            last_view: None,
            views: 0,
            records: Vec::new(),
        }
    }

    fn at(&mut self, t: f64, event: &str, fields: Value) -> &mut Script {
        self.sequence += 1;
        if event == "load" {
            self.views += 1;
            self.view = Some(format!("7733e000-0000-4000-8000-{:012}", self.views));
        }
        let when = self.start + Duration::microseconds((t * 1e6) as i64);
        let mut r = json!({
            "id": format!("1d000000-0000-4000-8000-{:012}", self.sequence),
            "session_id": self.session,
            "timestamp": when.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "sequence": self.sequence,
            "event": event,
        });
        let view = if event == "qoe" {
            self.last_view.clone()
        } else {
            self.view.clone()
        };
        if let Some(v) = view {
            r["view_id"] = json!(v);
        }
        for (k, v) in fields.as_object().unwrap() {
            r[k] = v.clone();
        }
        let closes = event == "end" || (event == "error" && r["fatal"] == true);
        if closes {
            self.last_view = self.view.take();
        }
        self.records.push(r);
        self
    }

    /// `end` followed by kino's qoe record, as kino sends them.
    fn end(&mut self, t: f64, position: f64) -> &mut Script {
        self.at(
            t,
            "end",
            json!({"position": position, "watch_time": position}),
        )
        .at(t, "qoe", json!({"score": 90.0}))
    }

    /// load, the initial rendition, the first frame.
    fn start_view(&mut self, t: f64) -> &mut Script {
        self.at(
            t,
            "load",
            json!({"url": "https://cdn/a.m3u8", "is_live": false}),
        )
        .at(
            t + 0.2,
            "quality_change",
            json!({"from_bitrate": 0, "to_bitrate": 800000,
                "from_resolution": null, "to_resolution": {"width": 854, "height": 480},
                "reason": "initial"}),
        )
        .at(t + 0.5, "play", json!({"position": 0.0}))
    }

    fn heartbeat(&mut self, t: f64, position: f64) -> &mut Script {
        self.at(
            t,
            "heartbeat",
            json!({"position": position, "buffer_level": 10.0,
            "bitrate": 800000, "dropped_frames": 0, "decoded_frames": 25}),
        )
    }

    fn findings(&self) -> Vec<Finding> {
        let mut checker = Checker::new(Limits::default());
        let mut all: Vec<Finding> = self
            .records
            .iter()
            .flat_map(|r| checker.observe(r))
            .collect();
        all.extend(checker.finish());
        all
    }
}

/// The rules broken, with the sequence number of the record showing each.
fn broken(script: &Script) -> Vec<(Rule, Option<u64>)> {
    script
        .findings()
        .iter()
        .map(|f| (f.rule, f.sequence))
        .collect()
}

/// A view that keeps every rule: the baseline each test below breaks.
fn good_view(s: &mut Script, t: f64) {
    s.start_view(t)
        .heartbeat(t + 10.0, 9.5)
        .at(
            t + 12.0,
            "rebuffer",
            json!({"position": 11.5, "buffer_level": 0.0}),
        )
        .at(
            t + 13.0,
            "rebuffer_end",
            json!({"position": 11.5, "duration": 0.0}),
        )
        .heartbeat(t + 20.0, 18.5)
        .at(t + 21.0, "seek", json!({"from": 19.5, "to": 300.0}))
        .at(
            t + 21.2,
            "rebuffer_end",
            json!({"position": 300.0, "duration": 0.0}),
        )
        .heartbeat(t + 30.0, 308.8)
        .at(t + 31.0, "pause", json!({"position": 309.8}))
        .at(t + 60.0, "play", json!({"position": 309.8}))
        .at(
            t + 62.0,
            "state_change",
            json!({"from": "playing", "to": "paused", "position": 311.8}),
        )
        .at(
            t + 63.0,
            "state_change",
            json!({"from": "paused", "to": "playing", "position": 311.8}),
        )
        .heartbeat(t + 70.0, 318.8)
        .at(
            t + 71.0,
            "error",
            json!({"code": "SEG", "message": "retried", "fatal": false, "position": 319.8}),
        )
        .at(t + 72.0, "custom", json!({"name": "ad", "data": null}))
        .end(t + 75.0, 323.8);
}

#[test]
fn a_well_behaved_stream_has_no_findings() {
    let mut s = Script::new();
    good_view(&mut s, 0.0);
    good_view(&mut s, 100.0);
    // A seek while paused that is never resumed is allowed.
    s.start_view(200.0)
        .at(201.0, "pause", json!({"position": 0.5}))
        .at(202.0, "seek", json!({"from": 0.5, "to": 40.0}))
        .end(203.0, 40.0);
    assert_eq!(s.findings(), vec![]);
}

#[test]
fn play_before_load() {
    let mut s = Script::new();
    s.at(0.0, "play", json!({"position": 0.0}));
    good_view(&mut s, 1.0);
    assert_eq!(broken(&s), [(Rule::PlayBeforeLoad, Some(1))]);
}

#[test]
fn playback_events_after_the_view_closed() {
    let mut s = Script::new();
    good_view(&mut s, 0.0);
    let after = s.sequence + 1;
    s.heartbeat(80.0, 330.0);
    assert_eq!(broken(&s), [(Rule::OutsideView, Some(after))]);
}

#[test]
fn rebuffer_end_without_rebuffer() {
    let mut s = Script::new();
    s.start_view(0.0)
        .heartbeat(5.0, 4.5)
        .at(
            6.0,
            "rebuffer_end",
            json!({"position": 5.5, "duration": 0.4}),
        )
        .end(7.0, 6.5);
    assert_eq!(broken(&s), [(Rule::RebufferEndWithoutRebuffer, Some(5))]);
}

#[test]
fn a_seek_that_never_completes() {
    let mut s = Script::new();
    s.start_view(0.0)
        .at(5.0, "seek", json!({"from": 4.5, "to": 100.0}))
        .end(9.0, 100.0);
    assert_eq!(broken(&s), [(Rule::SeekNeverCompletes, Some(4))]);
    // A second seek replaces the first: only the last one is pending.
    let mut s = Script::new();
    s.start_view(0.0)
        .at(5.0, "seek", json!({"from": 4.5, "to": 100.0}))
        .at(5.5, "seek", json!({"from": 100.0, "to": 200.0}))
        .at(6.0, "play", json!({"position": 200.0}))
        .end(7.0, 201.0);
    assert_eq!(broken(&s), []);
}

#[test]
fn heartbeats_that_stop_while_playing() {
    let mut s = Script::new();
    s.start_view(0.0)
        .heartbeat(10.0, 9.5)
        .heartbeat(20.0, 19.5)
        .heartbeat(50.0, 49.5) // 30 s of silence while playing
        .heartbeat(60.0, 59.5)
        .end(61.0, 60.5);
    assert_eq!(broken(&s), [(Rule::HeartbeatsStopped, Some(6))]);
    // A long pause is not a silence while playing.
    let mut s = Script::new();
    s.start_view(0.0)
        .heartbeat(10.0, 9.5)
        .at(11.0, "pause", json!({"position": 10.5}))
        .at(100.0, "play", json!({"position": 10.5}))
        .heartbeat(105.0, 15.5)
        .end(106.0, 16.5);
    assert_eq!(broken(&s), []);
    // Silence up to the close counts too.
    let mut s = Script::new();
    s.start_view(0.0).heartbeat(10.0, 9.5).end(60.0, 59.5);
    assert_eq!(broken(&s), [(Rule::HeartbeatsStopped, Some(5))]);
}

#[test]
fn positions_jumping_without_a_seek() {
    let mut s = Script::new();
    s.start_view(0.0)
        .heartbeat(10.0, 9.5)
        .heartbeat(20.0, 120.0) // 110 s of media in 10 s
        .heartbeat(30.0, 130.0)
        .heartbeat(40.0, 60.0) // backwards
        .end(41.0, 61.0);
    assert_eq!(
        broken(&s),
        [(Rule::PositionJump, Some(5)), (Rule::PositionJump, Some(7))]
    );
}

#[test]
fn no_quality_change_with_reason_initial() {
    let mut s = Script::new();
    s.at(0.0, "load", json!({"url": "u", "is_live": true}))
        .at(
            1.0,
            "quality_change",
            json!({"from_bitrate": 800000, "to_bitrate": 2500000,
            "from_resolution": null, "to_resolution": null, "reason": "abr"}),
        )
        .at(1.5, "play", json!({"position": 0.0}))
        .end(5.0, 3.5);
    assert_eq!(broken(&s), [(Rule::NoInitialQuality, Some(1))]);
    // A view that never started needs no rendition.
    let mut s = Script::new();
    s.at(0.0, "load", json!({"url": "u", "is_live": false}))
        .end(1.0, 0.0);
    assert_eq!(broken(&s), []);
}

#[test]
fn sequence_gaps() {
    let mut s = Script::new();
    s.start_view(0.0).heartbeat(5.0, 4.5);
    s.sequence += 3; // three calls dropped with QUEUE_FULL
    s.heartbeat(10.0, 9.5).end(11.0, 10.5);
    let f = s.findings();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].rule, f[0].sequence), (Rule::SequenceGap, Some(8)));
    assert!(
        f[0].message.contains("3 records never arrived"),
        "{}",
        f[0].message
    );
}

#[test]
fn a_view_never_closed() {
    let mut s = Script::new();
    s.start_view(0.0).heartbeat(10.0, 9.5);
    let f = s.findings();
    assert_eq!(
        f.iter().map(|f| (f.rule, f.sequence)).collect::<Vec<_>>(),
        [(Rule::ViewNeverClosed, Some(1))]
    );
    assert_eq!(f[0].view.as_deref(), s.records[0]["view_id"].as_str());
    // A view closed by the next load, or by kino_emitter_free (its qoe
    // record), is closed.
    let mut s = Script::new();
    s.start_view(0.0);
    s.start_view(5.0);
    let view = s.view.clone();
    s.last_view = view;
    s.at(9.0, "qoe", json!({"score": 50.0}));
    assert_eq!(broken(&s), []);
}

#[test]
fn timestamps_out_of_order() {
    let mut s = Script::new();
    s.start_view(10.0)
        .heartbeat(20.0, 9.5)
        .heartbeat(15.0, 10.0) // the host clock stepped back 5 s
        .end(25.0, 20.0);
    assert_eq!(broken(&s), [(Rule::TimestampOrder, Some(5))]);
}

#[test]
fn delivery_rules_duplicate_ids_and_sequence_order() {
    let mut s = Script::new();
    s.start_view(0.0);
    let again = s.records[1].clone();
    s.records.push(again);
    s.end(5.0, 4.5);
    let mut late = s.records[2].clone();
    late["id"] = json!("1d000000-0000-4000-8000-999999999999");
    s.records.push(late);
    assert_eq!(
        broken(&s),
        [(Rule::DuplicateId, Some(2)), (Rule::SequenceOrder, Some(3))]
    );
    assert!(Rule::DuplicateId.is_delivery() && Rule::SequenceOrder.is_delivery());
    assert!(Rule::ALL.iter().filter(|r| r.is_delivery()).count() == 2);
}

#[test]
fn every_rule_has_a_distinct_code_and_advice() {
    let mut codes: Vec<&str> = Rule::ALL.iter().map(|r| r.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), Rule::ALL.len());
    assert!(Rule::ALL.iter().all(|r| !r.advice().is_empty()));
}
