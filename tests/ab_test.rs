//! A/B analysis in one query: scripted views of two experiment variants
//! (b stalls less than a) are played with their `experiment_variant` set
//! as view metadata; kino's real NDJSON beacons are loaded into chDB (the
//! embedded ClickHouse engine) and one GROUP BY over the `qoe` records'
//! metadata gives the mean kino score and rebuffer ratio per variant,
//! which must equal what the `qoe` records themselves imply.
//!
//! Needs `python3 -c 'import chdb'` (scripts/test-deps.sh installs it).
#![cfg(feature = "http")]

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use kino::config::BeaconFormat;
use kino::event::{AnalyticsEvent, QualityChangeReason};
use kino::metadata::Level;
use kino::{Config, Emitter};
use serde_json::Value;
use support::collector::Collector;

/// (variant, stall durations in seconds) per view, interleaved.
const VIEWS: &[(&str, &[f64])] = &[
    ("a", &[0.5, 0.25]),
    ("b", &[]),
    ("a", &[1.0]),
    ("b", &[0.125]),
    ("a", &[0.5, 0.5, 0.25]),
    ("b", &[]),
];

/// Playing time a view gets before its stalls: the wall time between two
/// calls is what kino measures, so the script really plays a little.
const PLAYING: Duration = Duration::from_millis(40);

fn play_view(e: &Emitter, n: usize, variant: &str, stalls: &[f64]) {
    use AnalyticsEvent::*;
    e.set_metadata(Level::View, "experiment_name", Some("abr-2026"))
        .unwrap();
    e.set_metadata(Level::View, "experiment_variant", Some(variant))
        .unwrap();
    e.set_metadata(Level::View, "video_id", Some(&format!("movie-{n}")))
        .unwrap();
    e.emit(Load {
        url: format!("https://cdn.example/{n}.m3u8"),
        is_live: false,
    })
    .unwrap();
    e.emit(QualityChange {
        from_bitrate: 0,
        to_bitrate: 2_500_000,
        from_resolution: None,
        to_resolution: None,
        reason: QualityChangeReason::Initial,
    })
    .unwrap();
    e.emit(Play { position: 0.0 }).unwrap();
    std::thread::sleep(PLAYING); // playback, not synchronisation
    for (i, &duration) in stalls.iter().enumerate() {
        let position = 1.0 + i as f64;
        e.emit(Rebuffer {
            position,
            buffer_level: 0.0,
        })
        .unwrap();
        e.emit(RebufferEnd { position, duration }).unwrap();
    }
    e.emit(End {
        position: 30.0,
        watch_time: 30.0,
    })
    .unwrap();
}

#[test]
fn one_group_by_over_qoe_metadata_answers_the_ab_question() {
    let collector = Collector::start();
    let mut config = Config::default();
    config.set_beacon_url(Some(&collector.url())).unwrap();
    config.set_format(BeaconFormat::Ndjson);
    config.set_metadata("app_name", Some("ab-test")).unwrap();
    let e = Emitter::new(&config).unwrap();
    for (n, (variant, stalls)) in VIEWS.iter().enumerate() {
        play_view(&e, n, variant, stalls);
    }
    e.flush(Duration::from_secs(20)).unwrap();
    let s = e.stats();
    assert_eq!((s.delivered, s.failed, s.queued), (s.emitted, 0, 0));
    drop(e);

    let mut ndjson = Vec::new();
    let mut qoe: Vec<Value> = Vec::new();
    for b in collector.beacons() {
        for line in std::str::from_utf8(&b.body).unwrap().lines() {
            let r: Value = serde_json::from_str(line).unwrap();
            if r["event"] == "qoe" {
                qoe.push(r);
            }
        }
        ndjson.extend_from_slice(&b.body);
    }
    assert_eq!(qoe.len(), VIEWS.len());
    let rows = support::chdb::run("ab_query.py", &[], &ndjson);
    let rows = rows.as_array().expect("one row per variant");

    // What the qoe records imply, per variant: (views, mean score, ratio).
    let mut want: BTreeMap<String, (f64, f64, f64, f64)> = BTreeMap::new();
    for r in &qoe {
        let variant = r["metadata"]["experiment_variant"]
            .as_str()
            .unwrap()
            .to_owned();
        let w = want.entry(variant).or_default();
        w.0 += 1.0;
        w.1 += r["score"].as_f64().unwrap();
        w.2 += r["rebuffer_duration"].as_f64().unwrap();
        w.3 += r["watch_time"].as_f64().unwrap();
    }
    let number = |v: &Value| v.as_f64().or_else(|| v.as_str()?.parse().ok()).unwrap();
    let close = |got: f64, want: f64, what: &str| {
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{what}: {got} != {want}"
        );
    };
    assert_eq!(rows.len(), 2, "{rows:?}");
    let mut by_variant = BTreeMap::new();
    for row in rows {
        let variant = row["variant"].as_str().unwrap();
        let (views, score, stall, watch) = want[variant];
        assert_eq!(number(&row["views"]), views);
        close(number(&row["mean_score"]), score / views, "mean_score");
        close(
            number(&row["rebuffer_ratio"]),
            stall / watch,
            "rebuffer_ratio",
        );
        by_variant.insert(
            variant,
            (number(&row["mean_score"]), number(&row["rebuffer_ratio"])),
        );
    }
    let (a, b) = (by_variant["a"], by_variant["b"]);
    assert!(
        a.0 < b.0,
        "variant a stalls more: lower mean score ({a:?} vs {b:?})"
    );
    assert!(
        a.1 > b.1,
        "variant a stalls more: higher rebuffer ratio ({a:?} vs {b:?})"
    );
}
