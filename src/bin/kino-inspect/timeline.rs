//! What happened in each view, laid out in time for the report: the player
//! state, the renditions, stalls, seeks, pauses, errors and heartbeats, in
//! seconds since the view's `load`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::checks::{seconds, timestamp};

/// One session's views, in the order they started.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionTimeline {
    pub session: String,
    /// Session metadata (an OTLP resource's, when the beacons were OTLP).
    pub metadata: BTreeMap<String, String>,
    pub views: Vec<ViewTimeline>,
    /// Records that belong to no view.
    pub outside: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ViewTimeline {
    pub view_id: String,
    pub start: DateTime<Utc>,
    /// Seconds from the first record to the last.
    pub duration: f64,
    pub url: String,
    pub is_live: bool,
    /// The player state, as a run of spans covering the view.
    pub states: Vec<Span>,
    /// The rendition played from each step on (bit/s).
    pub renditions: Vec<Step>,
    pub marks: Vec<Mark>,
    /// Stalls, from `rebuffer` to their end.
    pub stalls: Vec<Span>,
    /// The view's `qoe` record, once it closed.
    pub qoe: Option<Value>,
    /// The view's metadata (issue 9: on its `load` and `qoe` records).
    pub metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub from: f64,
    pub to: f64,
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: f64,
    pub bitrate: u64,
    pub label: String,
}

/// A moment worth a marker.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub at: f64,
    /// `seek`, `pause`, `error`, `fatal`, `heartbeat`, `quality`, `end`.
    pub kind: &'static str,
    pub label: String,
    pub sequence: Option<u64>,
}

fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    seconds(from, to).max(0.0)
}

fn num(r: &Value, k: &str) -> f64 {
    r[k].as_f64().unwrap_or(0.0)
}

fn resolution(v: &Value) -> Option<String> {
    Some(format!(
        "{}×{}",
        v["width"].as_u64()?,
        v["height"].as_u64()?
    ))
}

fn metadata_of(r: &Value) -> BTreeMap<String, String> {
    r["metadata"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_owned)))
                .collect()
        })
        .unwrap_or_default()
}

/// `2.5 Mb/s`
pub fn bitrate(bits: u64) -> String {
    if bits >= 1_000_000 {
        format!("{:.1} Mb/s", bits as f64 / 1e6)
    } else {
        format!("{} kb/s", bits / 1000)
    }
}

/// Lays out `records` (one session's, any order) by view.
pub fn session(
    session: &str,
    records: &[Value],
    metadata: BTreeMap<String, String>,
) -> SessionTimeline {
    let mut by_view: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    let mut outside = 0;
    for r in records {
        match r["view_id"].as_str() {
            Some(v) => by_view.entry(v).or_default().push(r),
            None => outside += 1,
        }
    }
    let mut views: Vec<ViewTimeline> = by_view
        .into_iter()
        .filter_map(|(id, mut rs)| {
            rs.sort_by_key(|r| r["sequence"].as_u64().unwrap_or(0));
            view(id, &rs)
        })
        .collect();
    views.sort_by_key(|v| v.start);
    SessionTimeline {
        session: session.to_owned(),
        metadata,
        views,
        outside,
    }
}

fn view(id: &str, records: &[&Value]) -> Option<ViewTimeline> {
    let start = records.iter().filter_map(|r| timestamp(r)).min()?;
    let mut v = ViewTimeline {
        view_id: id.to_owned(),
        start,
        duration: 0.0,
        url: String::new(),
        is_live: false,
        states: Vec::new(),
        renditions: Vec::new(),
        marks: Vec::new(),
        stalls: Vec::new(),
        qoe: None,
        metadata: BTreeMap::new(),
    };
    let mut state = ("loading".to_owned(), 0.0);
    let mut stall: Option<f64> = None;
    let mut started = false;
    let mut paused = false;
    let mut set = |v: &mut ViewTimeline, kind: &str, at: f64| {
        if state.0 != kind {
            if at > state.1 {
                v.states.push(Span {
                    from: state.1,
                    to: at,
                    kind: state.0.clone(),
                });
            }
            state = (kind.to_owned(), at);
        }
    };
    for r in records {
        let at = timestamp(r).map_or(0.0, |t| secs(start, t));
        v.duration = v.duration.max(at);
        let seq = r["sequence"].as_u64();
        let mut mark = |kind: &'static str, label: String| {
            v.marks.push(Mark {
                at,
                kind,
                label,
                sequence: seq,
            })
        };
        let event = r["event"].as_str().unwrap_or("");
        match event {
            "load" => {
                v.url = r["url"].as_str().unwrap_or("").to_owned();
                v.is_live = r["is_live"].as_bool().unwrap_or(false);
                v.metadata.extend(metadata_of(r));
            }
            "play" => {
                started = true;
                paused = false;
                if let Some(s) = stall.take() {
                    v.stalls.push(Span {
                        from: s,
                        to: at,
                        kind: "stall".into(),
                    });
                }
                set(&mut v, "playing", at);
            }
            "pause" => {
                paused = true;
                mark("pause", format!("pause at {:.1} s", num(r, "position")));
                set(&mut v, "paused", at);
            }
            "seek" => {
                mark(
                    "seek",
                    format!("seek {:.1} → {:.1} s", num(r, "from"), num(r, "to")),
                );
                set(&mut v, "seeking", at);
            }
            "rebuffer" => {
                stall.get_or_insert(at);
                set(&mut v, "buffering", at);
            }
            "rebuffer_end" => {
                if let Some(s) = stall.take() {
                    v.stalls.push(Span {
                        from: s,
                        to: at,
                        kind: "stall".into(),
                    });
                }
                if started && !paused {
                    set(&mut v, "playing", at);
                }
            }
            "state_change" => {
                let to = r["to"].as_str().unwrap_or("").to_owned();
                if to == "playing" {
                    started = true;
                    paused = false;
                }
                set(&mut v, &to, at);
            }
            "quality_change" => {
                let bits = r["to_bitrate"].as_u64().unwrap_or(0);
                let res = resolution(&r["to_resolution"]);
                let label = match &res {
                    Some(res) => format!("{} {res}", bitrate(bits)),
                    None => bitrate(bits),
                };
                let reason = r["reason"].as_str().unwrap_or("");
                mark("quality", format!("{label} ({reason})"));
                v.renditions.push(Step {
                    at,
                    bitrate: bits,
                    label,
                });
            }
            "heartbeat" => {
                let bits = r["bitrate"].as_u64().unwrap_or(0);
                mark(
                    "heartbeat",
                    format!(
                        "heartbeat at {:.1} s, buffer {:.1} s, {}",
                        num(r, "position"),
                        num(r, "buffer_level"),
                        bitrate(bits)
                    ),
                );
                let current = v.renditions.last().map(|s| s.bitrate);
                if bits > 0 && current != Some(bits) {
                    v.renditions.push(Step {
                        at,
                        bitrate: bits,
                        label: bitrate(bits),
                    });
                }
            }
            "error" => {
                let fatal = r["fatal"].as_bool() == Some(true);
                let label = format!(
                    "{}error {}: {}",
                    if fatal { "fatal " } else { "" },
                    r["code"].as_str().unwrap_or(""),
                    r["message"].as_str().unwrap_or("")
                );
                mark(if fatal { "fatal" } else { "error" }, label);
                if fatal {
                    set(&mut v, "error", at);
                }
            }
            "end" => {
                mark("end", format!("end at {:.1} s", num(r, "position")));
                set(&mut v, "ended", at);
            }
            "qoe" => {
                v.metadata.extend(metadata_of(r));
                v.qoe = Some((*r).clone());
            }
            _ => {}
        }
    }
    if let Some(s) = stall {
        v.stalls.push(Span {
            from: s,
            to: v.duration,
            kind: "stall".into(),
        });
    }
    // The last state runs to the last record (at least a sliver, for a view
    // still open); an end or fatal error has no span after it (its marker
    // shows it).
    let terminal = state.0 == "ended" || state.0 == "error";
    let to = if terminal {
        v.duration
    } else {
        v.duration.max(state.1 + 0.001)
    };
    if to > state.1 {
        v.states.push(Span {
            from: state.1,
            to,
            kind: state.0,
        });
    }
    v.duration = to.max(0.001);
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(seq: u64, t: f64, event: &str, fields: Value) -> Value {
        let when = DateTime::parse_from_rfc3339("2026-11-25T14:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::milliseconds((t * 1000.0) as i64);
        let mut r = json!({"session_id": "s", "view_id": "v", "sequence": seq, "event": event,
            "timestamp": when.to_rfc3339()});
        for (k, v) in fields.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    }

    #[test]
    fn a_view_becomes_states_steps_stalls_and_marks() {
        let records = vec![
            rec(
                1,
                0.0,
                "load",
                json!({"url": "u", "is_live": false, "metadata": {"video_cdn": "c"}}),
            ),
            rec(
                2,
                0.5,
                "quality_change",
                json!({"to_bitrate": 800000,
                "to_resolution": {"width": 854, "height": 480}, "reason": "initial"}),
            ),
            rec(3, 1.0, "play", json!({"position": 0.0})),
            rec(4, 3.0, "rebuffer", json!({"position": 2.0})),
            rec(
                5,
                4.0,
                "rebuffer_end",
                json!({"position": 2.0, "duration": 1.0}),
            ),
            rec(
                6,
                5.0,
                "heartbeat",
                json!({"position": 3.0, "bitrate": 2500000}),
            ),
            rec(7, 6.0, "seek", json!({"from": 4.0, "to": 50.0})),
            rec(8, 6.5, "play", json!({"position": 50.0})),
            rec(9, 7.0, "pause", json!({"position": 50.5})),
            rec(
                10,
                8.0,
                "error",
                json!({"code": "E", "message": "m", "fatal": true}),
            ),
            rec(11, 8.0, "qoe", json!({"score": 50.0})),
        ];
        let s = session("s", &records, BTreeMap::new());
        assert_eq!(s.views.len(), 1);
        let v = &s.views[0];
        let kinds: Vec<(&str, f64, f64)> = v
            .states
            .iter()
            .map(|s| (s.kind.as_str(), s.from, s.to))
            .collect();
        assert_eq!(
            kinds,
            [
                ("loading", 0.0, 1.0),
                ("playing", 1.0, 3.0),
                ("buffering", 3.0, 4.0),
                ("playing", 4.0, 6.0),
                ("seeking", 6.0, 6.5),
                ("playing", 6.5, 7.0),
                ("paused", 7.0, 8.0),
            ]
        );
        assert_eq!(v.stalls.len(), 1);
        assert_eq!((v.stalls[0].from, v.stalls[0].to), (3.0, 4.0));
        let steps: Vec<(f64, u64)> = v.renditions.iter().map(|s| (s.at, s.bitrate)).collect();
        assert_eq!(steps, [(0.5, 800_000), (5.0, 2_500_000)]);
        assert_eq!(v.renditions[0].label, "800 kb/s 854×480");
        let marks: Vec<&str> = v.marks.iter().map(|m| m.kind).collect();
        assert_eq!(marks, ["quality", "heartbeat", "seek", "pause", "fatal"]);
        assert_eq!(v.metadata["video_cdn"], "c");
        assert!(v.qoe.is_some());
    }
}
