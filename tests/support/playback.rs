//! Scripted playback sessions for the ClickHouse tests, and what their
//! `qoe` records imply for the example queries (sql/clickhouse/queries.sql).
//! Each view's dimensions are set with kino's own view metadata before its
//! `load`, so kino's `load` and `qoe` records carry them.

#![allow(dead_code)]

use std::collections::BTreeMap;

use kino::event::{AnalyticsEvent, PlayerState, QualityChangeReason, Resolution};
use kino::metadata::Level;
use kino::Emitter;
use serde_json::{json, Value};

/// How one scripted view goes.
#[derive(Debug, Clone)]
pub struct View {
    pub experiment_variant: &'static str,
    pub video_cdn: &'static str,
    pub player_version: &'static str,
    /// Stall durations, seconds, as the player measured them.
    pub stalls: &'static [f64],
    pub seek: bool,
    /// Ends with a fatal error instead of `end`.
    pub fatal: bool,
    /// Closes before its first frame.
    pub exit_before_start: bool,
}

/// Six views over two variants, two CDNs and two player builds.
pub fn views() -> Vec<View> {
    let v = |experiment_variant, video_cdn, player_version, stalls, seek| View {
        experiment_variant,
        video_cdn,
        player_version,
        stalls,
        seek,
        fatal: false,
        exit_before_start: false,
    };
    vec![
        v("a", "cdn-1", "1.0", &[0.5, 0.25], true),
        v("a", "cdn-2", "1.1", &[1.0], false),
        View {
            fatal: true,
            ..v("a", "cdn-1", "1.1", &[0.5], false)
        },
        v("b", "cdn-1", "1.0", &[], false),
        v("b", "cdn-2", "1.0", &[0.125], true),
        View {
            exit_before_start: true,
            ..v("b", "cdn-2", "1.1", &[], false)
        },
    ]
}

/// The view metadata [`play`] sets for a view.
pub fn metadata(view: &View) -> Value {
    json!({
        "experiment_name": "abr-2026",
        "experiment_variant": view.experiment_variant,
        "video_cdn": view.video_cdn,
        "player_version": view.player_version,
        "video_id": "movie-42",
    })
}

/// The events of one view, in order.
pub fn script(view: &View) -> Vec<AnalyticsEvent> {
    use AnalyticsEvent::*;
    let mut events = vec![Load {
        url: format!("https://{}.example/movie/master.m3u8", view.video_cdn),
        is_live: false,
    }];
    if view.exit_before_start {
        events.push(End {
            position: 0.0,
            watch_time: 0.0,
        });
        return events;
    }
    events.push(crate::support::emitting::initial_480p());
    events.push(Play { position: 0.0 });
    for (i, &duration) in view.stalls.iter().enumerate() {
        let position = 2.0 + i as f64;
        events.push(Rebuffer {
            position,
            buffer_level: 0.0,
        });
        events.push(RebufferEnd { position, duration });
    }
    events.push(Heartbeat {
        position: 5.0,
        buffer_level: 8.0,
        bitrate: 800_000,
        dropped_frames: 1,
        decoded_frames: 125,
    });
    if view.seek {
        events.push(Seek {
            from: 5.0,
            to: 60.5,
        });
        events.push(StateChange {
            from: PlayerState::Seeking,
            to: PlayerState::Playing,
            position: 60.5,
        });
    }
    events.push(QualityChange {
        from_bitrate: 800_000,
        to_bitrate: 2_500_000,
        from_resolution: Some(Resolution {
            width: 854,
            height: 480,
        }),
        to_resolution: Some(Resolution {
            width: 1920,
            height: 1080,
        }),
        reason: QualityChangeReason::Abr,
    });
    events.push(Error {
        code: "SEG_404".into(),
        message: "segment \"7\" retried".into(),
        fatal: false,
        position: 61.0,
    });
    events.push(Custom {
        name: "ad_break".into(),
        data: json!({"slot": "mid", "ads": [1, 2], "skippable": null}),
    });
    events.push(if view.fatal {
        Error {
            code: "DECODE".into(),
            message: "decoder died".into(),
            fatal: true,
            position: 62.0,
        }
    } else {
        End {
            position: 62.0,
            watch_time: 30.0,
        }
    });
    events
}

/// Plays every view on `emitter`, its metadata set before its `load` (no
/// view is open then: no `metadata` record); returns how many records kino
/// makes (calls plus one `qoe` per view).
pub fn play(emitter: &Emitter, views: &[View]) -> usize {
    let mut records = 0;
    for view in views {
        for (key, value) in metadata(view).as_object().unwrap() {
            emitter
                .set_metadata(Level::View, key, value.as_str())
                .expect("valid metadata");
        }
        for event in script(view) {
            emitter.emit(event).expect("a scripted call is accepted");
            records += 1;
        }
        records += 1;
    }
    records
}

/// Events per type the scripted views make (`qoe` included).
pub fn events_per_type(views: &[View]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for view in views {
        for e in script(view) {
            *counts.entry(e.name().to_owned()).or_default() += 1;
        }
        *counts.entry("qoe".to_owned()).or_default() += 1;
    }
    counts
}

/// The `qoe` records among `lines`, parsed.
pub fn qoe_records(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["event"] == "qoe")
        .collect()
}

fn dim(record: &Value, key: &str) -> String {
    record["metadata"][key].as_str().unwrap_or("").to_owned()
}

fn f(record: &Value, key: &str) -> f64 {
    record[key].as_f64().unwrap_or(0.0)
}

/// What one group of `qoe` records sums to, under the queries' names.
fn aggregate(group: &[&Value]) -> BTreeMap<&'static str, f64> {
    let n = group.len() as f64;
    let sum = |k: &str| group.iter().map(|r| f(r, k)).sum::<f64>();
    let startups: Vec<f64> = group
        .iter()
        .filter_map(|r| r["initial_buffer_time"].as_f64())
        .collect();
    let watch = sum("watch_time");
    let mut out = BTreeMap::new();
    out.insert("views", n);
    out.insert("estimated_views", n);
    out.insert("mean_score", sum("score") / n);
    if !startups.is_empty() {
        out.insert(
            "mean_startup_s",
            startups.iter().sum::<f64>() / startups.len() as f64,
        );
    }
    out.insert("stalls", sum("rebuffer_count"));
    out.insert("stall_s", sum("rebuffer_duration"));
    out.insert("watch_s", watch);
    out.insert(
        "rebuffer_ratio",
        if watch > 0.0 {
            sum("rebuffer_duration") / watch
        } else {
            0.0
        },
    );
    let count = |k: &str| group.iter().filter(|r| r[k] == true).count() as f64;
    out.insert("failure_rate", count("playback_failed") / n);
    out.insert("failed_views", count("playback_failed"));
    out.insert("exits_before_start", count("exit_before_video_start"));
    out.insert("errors", sum("error_count"));
    out
}

/// Expected rows of a GROUP BY over `dims` (metadata keys), keyed by the
/// dimension values joined with '/'.
pub fn expected_by(qoe: &[Value], dims: &[&str]) -> BTreeMap<String, BTreeMap<&'static str, f64>> {
    let mut groups: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for r in qoe {
        let key: Vec<String> = dims.iter().map(|d| dim(r, d)).collect();
        groups.entry(key.join("/")).or_default().push(r);
    }
    groups
        .into_iter()
        .map(|(k, g)| (k, aggregate(&g)))
        .collect()
}

/// Checks query rows against [`expected_by`]: the same groups, and every
/// figure a row has that the expectation knows, within rounding.
pub fn check_rows(
    query: &str,
    rows: &[Value],
    dims: &[&str],
    expected: &BTreeMap<String, BTreeMap<&'static str, f64>>,
) {
    let mut seen = Vec::new();
    for row in rows {
        let key: Vec<String> = dims
            .iter()
            .map(|d| row[*d].as_str().unwrap_or("").to_owned())
            .collect();
        let key = key.join("/");
        let want = expected
            .get(&key)
            .unwrap_or_else(|| panic!("{query}: unexpected group {key:?} in {row}"));
        for (name, value) in row.as_object().unwrap() {
            let Some(&w) = want.get(name.as_str()) else {
                continue;
            };
            let got = number(value).unwrap_or_else(|| panic!("{query}.{name} is {value}"));
            assert!(
                (got - w).abs() <= 1e-6 * w.abs().max(1.0),
                "{query} [{key}] {name}: ClickHouse says {got}, the qoe records {w}"
            );
        }
        seen.push(key);
    }
    let want: Vec<&String> = expected.keys().collect();
    let mut got: Vec<&String> = seen.iter().collect();
    got.sort();
    assert_eq!(got, want, "{query}: groups");
}

/// A JSON number, or a number ClickHouse quoted (64-bit integers).
pub fn number(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str()?.parse().ok())
}
