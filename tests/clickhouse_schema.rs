//! sql/clickhouse/schema.sql and queries.sql in a current ClickHouse (chDB,
//! the embedded engine from PyPI): kino's real NDJSON beacons go in both
//! documented ways, and every example query returns what the scripted
//! sessions' own `qoe` records imply.
//!
//! The metadata dimensions are kino's own (view metadata set by
//! support/playback.rs before each load). Needs `python3 -c 'import chdb'` (scripts/test-deps.sh installs it).
#![cfg(feature = "http")]

#[path = "support/playback.rs"]
mod playback;
mod support;

use std::time::Duration;

use kino::config::BeaconFormat;
use kino::{Config, Emitter};
use serde_json::Value;
use support::collector::Collector;

/// Plays `views` on a fresh emitter; returns its NDJSON lines as received.
fn session_lines(views: &[playback::View]) -> Vec<String> {
    let collector = Collector::start();
    let mut config = Config::default();
    config.set_beacon_url(Some(&collector.url())).unwrap();
    config.set_format(BeaconFormat::Ndjson);
    config.set_batch_size(7).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    let records = playback::play(&emitter, views);
    emitter.flush(Duration::from_secs(20)).unwrap();
    let stats = emitter.stats();
    assert_eq!(
        (stats.emitted, stats.delivered),
        (records as u64, records as u64)
    );
    drop(emitter);
    let lines: Vec<String> = collector
        .beacons()
        .iter()
        .flat_map(|b| {
            assert_eq!(b.header("content-type"), Some("application/x-ndjson"));
            let text = String::from_utf8(b.body.clone()).unwrap();
            text.lines().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(lines.len(), records);
    lines
}

fn field(line: &str, key: &str) -> Value {
    serde_json::from_str::<Value>(line).unwrap()[key].clone()
}

#[test]
fn schema_takes_kino_ndjson_and_the_example_queries_add_up() {
    let views = playback::views();
    let full = session_lines(&views);
    // A second session whose records 4 and 5 never arrived (hand-made drops,
    // as QUEUE_FULL would leave them): the gap query must find it.
    let one = &views[..1];
    let mut gappy = session_lines(one);
    let dropped: Vec<String> = gappy.drain(3..5).collect();
    assert!(dropped.iter().all(|l| field(l, "event") != "qoe"));
    let gappy_session = field(&gappy[0], "session_id");

    let lines: Vec<String> = full.iter().chain(&gappy).cloned().collect();
    let root = support::cbuild::root();
    let result = support::chdb::run(
        "clickhouse_schema.py",
        &[
            "chdb".into(),
            root.join("sql/clickhouse/schema.sql").into(),
            root.join("sql/clickhouse/queries.sql").into(),
        ],
        (lines.join("\n") + "\n").as_bytes(),
    );

    // Both ways in give the same answers; the JSONAsString way keeps every
    // line byte for byte.
    assert_eq!(result["each_row"], result["as_string"]);
    assert_eq!(result["records"], lines.len());
    assert_eq!(result["raw_lines"], lines.len());
    assert_eq!(result["raw_equals_sent"], true);

    let q = &result["each_row"];
    let rows = |name: &str| q[name].as_array().unwrap().clone();
    let qoe = playback::qoe_records(&lines);
    assert_eq!(qoe.len(), views.len() + 1, "one qoe record per view");
    for (name, dims) in [
        (
            "qoe_by_experiment_variant",
            &["experiment_name", "experiment_variant"][..],
        ),
        ("qoe_by_video_cdn", &["video_cdn"][..]),
        ("qoe_by_player_version", &["player_version"][..]),
    ] {
        let expected = playback::expected_by(&qoe, dims);
        playback::check_rows(name, &rows(name), dims, &expected);
    }
    // The A/B figures differ as scripted: variant a stalls more than b.
    // (Ratios are near 1 here: the script plays no wall-clock time.)
    let ab = rows("qoe_by_experiment_variant");
    let fig = |i: usize, k: &str| playback::number(&ab[i][k]).unwrap();
    assert_eq!((fig(0, "stalls"), fig(0, "stall_s")), (6.0, 3.0), "{ab:?}");
    assert_eq!(
        (fig(1, "stalls"), fig(1, "stall_s")),
        (1.0, 0.125),
        "{ab:?}"
    );

    // Over time: every view in some hour, the totals intact.
    let hours = rows("rebuffer_ratio_by_hour");
    let total = playback::expected_by(&qoe, &[]);
    let total = &total[""];
    for figure in ["views", "stalls", "stall_s", "watch_s"] {
        let sum: f64 = hours
            .iter()
            .map(|h| playback::number(&h[figure]).unwrap())
            .sum();
        assert!((sum - total[figure]).abs() < 1e-6, "{figure}: {sum}");
    }
    if hours.len() == 1 {
        let r = playback::number(&hours[0]["rebuffer_ratio"]).unwrap();
        assert!((r - total["rebuffer_ratio"]).abs() < 1e-9);
    }

    let gaps = rows("sequence_gaps");
    assert_eq!(gaps.len(), 1, "only the session with drops: {gaps:?}");
    assert_eq!(gaps[0]["session_id"], gappy_session);
    assert_eq!(playback::number(&gaps[0]["missing"]), Some(2.0));

    let mut expected_events = playback::events_per_type(&views);
    for (event, n) in playback::events_per_type(one) {
        *expected_events.entry(event).or_default() += n;
    }
    for l in &dropped {
        *expected_events
            .get_mut(field(l, "event").as_str().unwrap())
            .unwrap() -= 1;
    }
    let got: std::collections::BTreeMap<String, u64> = rows("events_per_type")
        .iter()
        .map(|r| {
            (
                r["event"].as_str().unwrap().to_owned(),
                playback::number(&r["records"]).unwrap() as u64,
            )
        })
        .collect();
    assert_eq!(got, expected_events);
}
