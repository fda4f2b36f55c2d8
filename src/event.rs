//! The event model and the wire record: the seed's `AnalyticsEvent` and
//! `AnalyticsEventRecord`, serialized exactly as the seed declares them
//! (CONTRACT.md §3). Nothing here knows about queues, threads or C.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clock::Mono;
use crate::figures::ViewFigures;

/// One emitter's session identifier: a random UUID, serialized as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub Uuid);

impl SessionId {
    /// A fresh random session id.
    pub fn new() -> Self {
        SessionId(Uuid::new_v4())
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A video resolution in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolution {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// The player's state machine, as the host engine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlayerState {
    /// Nothing loaded.
    Idle,
    /// Loading the media.
    Loading,
    /// Frames are being rendered.
    Playing,
    /// Paused (by the user or by the engine).
    Paused,
    /// Waiting for data.
    Buffering,
    /// A seek is in progress.
    Seeking,
    /// Playback reached the end.
    Ended,
    /// Playback stopped on an error.
    Error,
}

/// Why the played rendition changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualityChangeReason {
    /// ABR algorithm decision.
    Abr,
    /// User manual selection.
    Manual,
    /// Buffer-based downgrade.
    Buffer,
    /// Initial selection.
    Initial,
}

/// A playback event: the seed's twelve variants, same fields, same JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AnalyticsEvent {
    /// Content loaded.
    Load { url: String, is_live: bool },
    /// Playback started (first frame shown).
    Play { position: f64 },
    /// Playback paused by the user.
    Pause { position: f64 },
    /// Seek requested.
    Seek { from: f64, to: f64 },
    /// Rebuffering started.
    Rebuffer { position: f64, buffer_level: f64 },
    /// Rebuffering ended.
    RebufferEnd { position: f64, duration: f64 },
    /// Quality (rendition) change.
    QualityChange {
        from_bitrate: u64,
        to_bitrate: u64,
        from_resolution: Option<Resolution>,
        to_resolution: Option<Resolution>,
        reason: QualityChangeReason,
    },
    /// Player state change.
    StateChange {
        from: PlayerState,
        to: PlayerState,
        position: f64,
    },
    /// Playback ended.
    End { position: f64, watch_time: f64 },
    /// Error occurred.
    Error {
        code: String,
        message: String,
        fatal: bool,
        position: f64,
    },
    /// Periodic heartbeat.
    Heartbeat {
        position: f64,
        buffer_level: f64,
        bitrate: u64,
        dropped_frames: u64,
        decoded_frames: u64,
    },
    /// Custom event with caller JSON.
    Custom {
        name: String,
        data: serde_json::Value,
    },
    /// A view's QoE figures, made by kino when the view closes (never
    /// emitted by the host). Boxed so the queue's slots stay small.
    Qoe(Box<ViewFigures>),
    /// The open view's metadata changed (made by kino when the host sets
    /// metadata while a view is open): the keys whose merged value
    /// changed, with their new value, `null` for a key no longer set.
    Metadata {
        changed: BTreeMap<String, Option<String>>,
    },
}

impl AnalyticsEvent {
    /// True for events that are delivered at once instead of waiting for the
    /// batch interval: `end` and fatal `error` (CONTRACT.md §4).
    pub fn is_urgent(&self) -> bool {
        matches!(
            self,
            AnalyticsEvent::End { .. } | AnalyticsEvent::Error { fatal: true, .. }
        )
    }

    /// True for events that can open or close a view: `load`, `end` and a
    /// fatal `error`.
    pub fn changes_views(&self) -> bool {
        matches!(
            self,
            AnalyticsEvent::Load { .. }
                | AnalyticsEvent::End { .. }
                | AnalyticsEvent::Error { fatal: true, .. }
        )
    }

    /// The snake_case name the record carries in its `event` field.
    pub fn name(&self) -> &'static str {
        match self {
            AnalyticsEvent::Load { .. } => "load",
            AnalyticsEvent::Play { .. } => "play",
            AnalyticsEvent::Pause { .. } => "pause",
            AnalyticsEvent::Seek { .. } => "seek",
            AnalyticsEvent::Rebuffer { .. } => "rebuffer",
            AnalyticsEvent::RebufferEnd { .. } => "rebuffer_end",
            AnalyticsEvent::QualityChange { .. } => "quality_change",
            AnalyticsEvent::StateChange { .. } => "state_change",
            AnalyticsEvent::End { .. } => "end",
            AnalyticsEvent::Error { .. } => "error",
            AnalyticsEvent::Heartbeat { .. } => "heartbeat",
            AnalyticsEvent::Custom { .. } => "custom",
            AnalyticsEvent::Qoe(_) => "qoe",
            AnalyticsEvent::Metadata { .. } => "metadata",
        }
    }
}

/// An event as the worker sees it: its sequence number, the monotonic
/// reading taken at the `kino_emit_*` call (QoE durations use it), and its
/// wall-clock timestamp (what the record carries). Holds no heap data for
/// numeric events.
#[derive(Debug, Clone, PartialEq)]
pub struct StampedEvent {
    /// 1, 2, 3… per emitter, in call order.
    pub sequence: u64,
    /// When the host called `kino_emit_*`, on the monotonic clock.
    pub mono: Mono,
    /// The same moment on the wall clock.
    pub timestamp: DateTime<Utc>,
    /// The event itself.
    pub event: AnalyticsEvent,
}

/// The record a collector receives: metadata plus the event's fields,
/// flattened beside it (`"event": "<variant>"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyticsEventRecord {
    /// Unique per record; collectors deduplicate retried batches by it.
    pub id: Uuid,
    /// One per emitter.
    pub session_id: SessionId,
    /// When the host called `kino_emit_*` (RFC 3339, UTC).
    pub timestamp: DateTime<Utc>,
    /// 1, 2, 3… per emitter; a gap means events were dropped.
    pub sequence: u64,
    /// The view this record belongs to (from a `load` to the view's close);
    /// absent outside a view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view_id: Option<Uuid>,
    /// The view's merged metadata (kino's keys, the session's, the view's;
    /// the view's winning): on `load` and `qoe` records, and on every
    /// record of a view with `kino_config_set_metadata_on_every_record`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Arc<BTreeMap<String, String>>>,
    /// The session's sample rate (`kino_config_set_sample_rate`), on
    /// `load` and `qoe` records: a backend weighs a view by 1/rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<f64>,
    /// The event, flattened.
    #[serde(flatten)]
    pub event: AnalyticsEvent,
}

impl AnalyticsEventRecord {
    /// Gives a stamped event its record identity (a fresh random id).
    pub fn new(session_id: SessionId, stamped: StampedEvent, view_id: Option<Uuid>) -> Self {
        Self::with_id(Uuid::new_v4(), session_id, stamped, view_id)
    }

    /// Like [`AnalyticsEventRecord::new`], with the id given.
    pub fn with_id(
        id: Uuid,
        session_id: SessionId,
        stamped: StampedEvent,
        view_id: Option<Uuid>,
    ) -> Self {
        AnalyticsEventRecord {
            id,
            session_id,
            timestamp: stamped.timestamp,
            sequence: stamped.sequence,
            view_id,
            metadata: None,
            sample_rate: None,
            event: stamped.event,
        }
    }
}

/// Serializes records as one beacon body: a JSON array, oldest first.
pub fn beacon_body(records: &[AnalyticsEventRecord]) -> Vec<u8> {
    // Serializing plain data with derived impls cannot fail: f64 values are
    // validated finite before they are queued.
    serde_json::to_vec(records).unwrap_or_else(|_| b"[]".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn to_json(event: AnalyticsEvent) -> serde_json::Value {
        serde_json::to_value(event).unwrap()
    }

    #[test]
    fn every_variant_has_the_seed_shape() {
        let r = Resolution {
            width: 854,
            height: 480,
        };
        let cases = vec![
            (
                AnalyticsEvent::Load {
                    url: "https://cdn.example/a.m3u8".into(),
                    is_live: false,
                },
                json!({"event":"load","url":"https://cdn.example/a.m3u8","is_live":false}),
            ),
            (
                AnalyticsEvent::Play { position: 1.5 },
                json!({"event":"play","position":1.5}),
            ),
            (
                AnalyticsEvent::Pause { position: 2.0 },
                json!({"event":"pause","position":2.0}),
            ),
            (
                AnalyticsEvent::Seek {
                    from: 1.0,
                    to: 30.0,
                },
                json!({"event":"seek","from":1.0,"to":30.0}),
            ),
            (
                AnalyticsEvent::Rebuffer {
                    position: 3.0,
                    buffer_level: 0.5,
                },
                json!({"event":"rebuffer","position":3.0,"buffer_level":0.5}),
            ),
            (
                AnalyticsEvent::RebufferEnd {
                    position: 3.0,
                    duration: 1.25,
                },
                json!({"event":"rebuffer_end","position":3.0,"duration":1.25}),
            ),
            (
                AnalyticsEvent::QualityChange {
                    from_bitrate: 800_000,
                    to_bitrate: 2_500_000,
                    from_resolution: Some(r),
                    to_resolution: None,
                    reason: QualityChangeReason::Abr,
                },
                json!({"event":"quality_change","from_bitrate":800000,"to_bitrate":2500000,
                       "from_resolution":{"width":854,"height":480},"to_resolution":null,"reason":"abr"}),
            ),
            (
                AnalyticsEvent::StateChange {
                    from: PlayerState::Buffering,
                    to: PlayerState::Playing,
                    position: 4.0,
                },
                json!({"event":"state_change","from":"buffering","to":"playing","position":4.0}),
            ),
            (
                AnalyticsEvent::End {
                    position: 60.0,
                    watch_time: 58.0,
                },
                json!({"event":"end","position":60.0,"watch_time":58.0}),
            ),
            (
                AnalyticsEvent::Error {
                    code: "E42".into(),
                    message: "decoder".into(),
                    fatal: true,
                    position: 5.0,
                },
                json!({"event":"error","code":"E42","message":"decoder","fatal":true,"position":5.0}),
            ),
            (
                AnalyticsEvent::Heartbeat {
                    position: 6.0,
                    buffer_level: 12.0,
                    bitrate: 2_500_000,
                    dropped_frames: 3,
                    decoded_frames: 900,
                },
                json!({"event":"heartbeat","position":6.0,"buffer_level":12.0,"bitrate":2500000,
                       "dropped_frames":3,"decoded_frames":900}),
            ),
            (
                AnalyticsEvent::Custom {
                    name: "ad_start".into(),
                    data: json!({"slot":"pre"}),
                },
                json!({"event":"custom","name":"ad_start","data":{"slot":"pre"}}),
            ),
            (
                AnalyticsEvent::Metadata {
                    changed: [
                        ("video_title".to_owned(), Some("Ep. 2".to_owned())),
                        ("ad_id".to_owned(), None),
                    ]
                    .into(),
                },
                json!({"event":"metadata","changed":{"ad_id":null,"video_title":"Ep. 2"}}),
            ),
        ];
        for (event, expected) in cases {
            let name = event.name();
            let value = to_json(event.clone());
            assert_eq!(value, expected, "variant {name}");
            assert_eq!(value["event"], name);
            let back: AnalyticsEvent = serde_json::from_value(value).unwrap();
            assert_eq!(back, event);
        }
    }

    #[test]
    fn every_state_and_reason_is_snake_case() {
        let states = [
            (PlayerState::Idle, "idle"),
            (PlayerState::Loading, "loading"),
            (PlayerState::Playing, "playing"),
            (PlayerState::Paused, "paused"),
            (PlayerState::Buffering, "buffering"),
            (PlayerState::Seeking, "seeking"),
            (PlayerState::Ended, "ended"),
            (PlayerState::Error, "error"),
        ];
        for (s, text) in states {
            assert_eq!(serde_json::to_value(s).unwrap(), json!(text));
        }
        let reasons = [
            (QualityChangeReason::Abr, "abr"),
            (QualityChangeReason::Manual, "manual"),
            (QualityChangeReason::Buffer, "buffer"),
            (QualityChangeReason::Initial, "initial"),
        ];
        for (r, text) in reasons {
            assert_eq!(serde_json::to_value(r).unwrap(), json!(text));
        }
    }

    #[test]
    fn record_flattens_the_event_beside_its_metadata() {
        let session = SessionId::new();
        let ts = DateTime::parse_from_rfc3339("2026-11-25T14:16:43.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let record = AnalyticsEventRecord::new(
            session,
            StampedEvent {
                sequence: 7,
                timestamp: ts,
                event: AnalyticsEvent::Play { position: 1.0 },
                mono: Mono::default(),
            },
            None,
        );
        let v = serde_json::to_value(&record).unwrap();
        let obj = v.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "event",
                "id",
                "position",
                "sequence",
                "session_id",
                "timestamp"
            ]
        );
        assert_eq!(v["sequence"], 7);
        assert_eq!(v["timestamp"], "2026-11-25T14:16:43.123456Z");
        assert_eq!(v["session_id"], session.to_string());
        let id = Uuid::parse_str(v["id"].as_str().unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 4);
        assert_eq!(v["event"], "play");
        let parsed =
            DateTime::parse_from_rfc3339(v["timestamp"].as_str().unwrap()).expect("RFC 3339");
        assert_eq!(parsed, ts);
    }

    #[test]
    fn beacon_body_is_an_array_oldest_first() {
        let session = SessionId::new();
        let records: Vec<_> = (1..=3)
            .map(|n| {
                AnalyticsEventRecord::new(
                    session,
                    StampedEvent {
                        sequence: n,
                        timestamp: Utc::now(),
                        event: AnalyticsEvent::Play { position: n as f64 },
                        mono: Mono::default(),
                    },
                    None,
                )
            })
            .collect();
        let v: serde_json::Value = serde_json::from_slice(&beacon_body(&records)).unwrap();
        let seqs: Vec<u64> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["sequence"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, [1, 2, 3]);
    }

    #[test]
    fn urgent_events_are_end_and_fatal_error() {
        assert!(AnalyticsEvent::End {
            position: 0.0,
            watch_time: 0.0
        }
        .is_urgent());
        let err = |fatal| AnalyticsEvent::Error {
            code: String::new(),
            message: String::new(),
            fatal,
            position: 0.0,
        };
        assert!(err(true).is_urgent());
        assert!(!err(false).is_urgent());
        assert!(!AnalyticsEvent::Play { position: 0.0 }.is_urgent());
    }
}
