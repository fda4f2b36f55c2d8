//! NDJSON beacons go straight into ClickHouse: real beacons from a real
//! collector are loaded by chDB (the embedded ClickHouse engine, from PyPI)
//! as `JSONEachRow`, and QoE aggregates are queried from them.
//!
//! Needs `python3 -c 'import chdb'` (scripts/test-deps.sh installs it).
#![cfg(feature = "http")]

mod support;

use std::time::Duration;

use kino::config::BeaconFormat;
use kino::event::AnalyticsEvent;
use kino::{Config, Emitter};
use support::collector::Collector;

fn load(url: &str) -> AnalyticsEvent {
    AnalyticsEvent::Load {
        url: url.into(),
        is_live: false,
    }
}

#[test]
fn ndjson_beacons_load_into_clickhouse_and_aggregate() {
    let collector = Collector::start();
    let mut config = Config::default();
    config.set_beacon_url(Some(&collector.url())).unwrap();
    config.set_format(BeaconFormat::Ndjson);
    config.set_batch_size(4).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    use AnalyticsEvent::*;
    let script = [
        load("https://cdn/a.m3u8"),
        Play { position: 0.0 },
        Rebuffer {
            position: 1.0,
            buffer_level: 0.0,
        },
        RebufferEnd {
            position: 1.0,
            duration: 0.5,
        },
        Heartbeat {
            position: 2.0,
            buffer_level: 3.0,
            bitrate: 2_000_000,
            dropped_frames: 0,
            decoded_frames: 50,
        },
        Custom {
            name: "ad".into(),
            data: serde_json::json!({"slot": "pre", "n": 1}),
        },
        load("https://cdn/b.m3u8"),
        Play { position: 0.0 },
        Rebuffer {
            position: 5.0,
            buffer_level: 0.0,
        },
        RebufferEnd {
            position: 5.0,
            duration: 0.25,
        },
        Rebuffer {
            position: 6.0,
            buffer_level: 0.0,
        },
        RebufferEnd {
            position: 6.0,
            duration: 0.25,
        },
        End {
            position: 9.0,
            watch_time: 9.0,
        },
    ];
    for e in script {
        emitter.emit(e).unwrap();
    }
    emitter.flush(Duration::from_secs(10)).unwrap();
    let session = emitter.session_id().to_string();
    drop(emitter);

    let beacons = collector.beacons();
    let mut ndjson = Vec::new();
    for b in &beacons {
        assert_eq!(b.header("content-type"), Some("application/x-ndjson"));
        let text = std::str::from_utf8(&b.body).unwrap();
        for line in text.lines() {
            let record: serde_json::Value = serde_json::from_str(line).expect("one JSON per line");
            assert_eq!(record["session_id"], session.as_str());
        }
        ndjson.extend_from_slice(&b.body);
    }
    let result = support::chdb::run("clickhouse_query.py", &[], &ndjson);
    let per_type = &result["events_per_type"];
    assert_eq!(per_type["load"], 2);
    assert_eq!(per_type["play"], 2);
    assert_eq!(per_type["rebuffer"], 3);
    assert_eq!(per_type["rebuffer_end"], 3);
    assert_eq!(per_type["heartbeat"], 1);
    assert_eq!(per_type["custom"], 1);
    assert_eq!(per_type["end"], 1);
    assert_eq!(per_type["qoe"], 2, "one qoe record per view");
    assert_eq!(result["views"], 2);
    assert_eq!(result["sessions"], 1);
    assert_eq!(result["rebuffer_events"], 3);
    assert_eq!(result["qoe_rebuffer_count"], 3);
    let duration = result["qoe_rebuffer_duration"].as_f64().unwrap();
    assert!(duration > 0.0, "stall time summed from the qoe records");
    assert_eq!(result["max_sequence"], 15, "13 calls + 2 qoe records");
}
