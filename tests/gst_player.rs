//! The GStreamer demo script: scripts/gst-demo.sh builds gst-play
//! (examples-c/gst_play.c on the adapter, with `make`), generates a
//! multi-rendition HLS stream with ffmpeg, serves it on 127.0.0.1 and plays
//! it in real time; kino reports the session to this test's collector
//! (KINO_BEACON_URL). tests/gst_adapter.rs holds the adapter itself to
//! what GStreamer reports; this keeps the demo working.
//!
//! Needs ffmpeg and GStreamer (runtime, plugins and headers); .ci/run
//! installs them. Takes about 10 s: the stream is played at normal speed.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::cbuild::{self, clean_env};
use support::collector::Collector;

#[test]
fn gstreamer_player_reports_an_hls_session() {
    let collector = Collector::start();
    let mut cmd = Command::new("bash");
    cmd.arg(cbuild::root().join("scripts/gst-demo.sh"))
        .current_dir(cbuild::root())
        .env("KINO_BEACON_URL", collector.url());
    // The player finds the release library through its rpath.
    clean_env(&mut cmd);
    let out = cmd.output().expect("run scripts/gst-demo.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "gst-demo.sh failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("gst-demo: ok"), "{stdout}");

    // The player flushed before exiting, so everything has arrived; wait
    // for the view's qoe record all the same.
    let has_qoe = |records: &[Value]| records.iter().any(|r| r["event"] == "qoe");
    assert!(
        collector.wait_until(Duration::from_secs(10), |beacons| {
            has_qoe(&beacons.iter().flat_map(|b| b.records()).collect::<Vec<_>>())
        }),
        "no qoe record arrived:\n{stdout}"
    );
    let records = collector.accepted_records();
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["event"].as_str().unwrap_or("?"))
        .collect();
    let count = |name: &str| names.iter().filter(|n| **n == name).count();

    assert_eq!(names.first(), Some(&"load"), "{names:?}");
    assert!(
        records[0]["url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/master.m3u8")),
        "{}",
        records[0]
    );
    assert_eq!(count("load"), 1, "{names:?}");
    assert_eq!(count("play"), 1, "one start, no user pause: {names:?}");
    assert_eq!(
        count("pause"),
        0,
        "engine pauses are not user pauses: {names:?}"
    );
    assert_eq!(count("end"), 1, "{names:?}");
    assert_eq!(count("error"), 0, "{names:?}");
    assert_eq!(
        names[names.len() - 2..],
        ["end", "qoe"],
        "the end closes the view; its qoe follows"
    );

    // The starting rendition: reason initial, its resolution and its
    // variant BANDWIDTH from the master playlist; then any ABR switches.
    let quality: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "quality_change")
        .collect();
    assert!(!quality.is_empty(), "{names:?}");
    let initial = quality[0];
    assert_eq!(initial["reason"], "initial", "{initial}");
    assert_eq!(initial["from_resolution"], Value::Null, "{initial}");
    assert!(
        initial["to_resolution"]["width"].as_u64() > Some(0),
        "{initial}"
    );
    assert!(initial["to_bitrate"].as_u64() > Some(0), "{initial}");
    let initial_at = names.iter().position(|n| *n == "quality_change").unwrap();
    let play_at = names.iter().position(|n| *n == "play").unwrap();
    assert!(
        initial_at < play_at,
        "initial rendition before the first frame: {names:?}"
    );
    for switch in &quality[1..] {
        assert_eq!(switch["reason"], "abr", "{switch}");
        assert_ne!(
            switch["to_resolution"], switch["from_resolution"],
            "{switch}"
        );
    }
    // Every stall that began also ended.
    assert_eq!(count("rebuffer"), count("rebuffer_end"), "{names:?}");

    // One session, in order, nothing lost.
    let session = &records[0]["session_id"];
    assert!(records.iter().all(|r| &r["session_id"] == session));
    let seqs: Vec<u64> = records
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=records.len() as u64).collect::<Vec<_>>());
    assert!(
        stdout.contains(&format!(
            "stats emitted={n} delivered={n} failed=0 queued=0 dropped=0",
            n = records.len()
        )),
        "{stdout}"
    );

    let qoe = records.last().unwrap();
    assert_eq!(qoe["event"], "qoe");
    assert_eq!(qoe["started"], true, "{qoe}");
    assert_eq!(qoe["playback_failed"], false, "{qoe}");
    assert!(qoe["initial_buffer_time"].as_f64().is_some(), "{qoe}");
    assert!(
        qoe["playing_time"].as_f64() > Some(5.0),
        "an 8 s stream played in real time: {qoe}"
    );
    assert!(qoe["average_bitrate"].as_u64() > Some(0), "{qoe}");
}
