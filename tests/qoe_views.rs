//! Views and `qoe` records end to end: the emitter tracks views, sends a
//! `qoe` record at each close, and `kino_emitter_qoe` agrees with it.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use kino::event::AnalyticsEvent;
use kino::ffi::emitter::{kino_emitter_free, kino_emitter_new, kino_emitter_qoe, KinoEmitter};
use kino::ffi::qoe::KinoQoeBreakdown;
use kino::ffi::KinoStatus;
use kino::{Config, Emitter};
use support::collector::Collector;

const WAIT: Duration = Duration::from_secs(10);

fn load(url: &str) -> AnalyticsEvent {
    AnalyticsEvent::Load {
        url: url.into(),
        is_live: false,
    }
}

fn emitter_for(collector: &Collector) -> Emitter {
    let mut c = Config::default();
    c.set_beacon_url(Some(&collector.url())).unwrap();
    Emitter::new(&c).unwrap()
}

#[test]
fn a_view_closed_by_end_sends_its_qoe_record() {
    let collector = Collector::start();
    let emitter = emitter_for(&collector);
    emitter
        .emit(AnalyticsEvent::Play { position: 0.0 })
        .unwrap(); // outside a view
    emitter.emit(load("https://cdn/a.m3u8")).unwrap();
    emitter
        .emit(AnalyticsEvent::Play { position: 0.0 })
        .unwrap();
    emitter
        .emit(AnalyticsEvent::RebufferEnd {
            position: 1.0,
            duration: 0.0,
        })
        .unwrap();
    emitter
        .emit(AnalyticsEvent::End {
            position: 2.0,
            watch_time: 2.0,
        })
        .unwrap();
    emitter
        .emit(AnalyticsEvent::Pause { position: 2.0 })
        .unwrap(); // after the close
    emitter.flush(WAIT).unwrap();
    let records = collector.accepted_records();
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "play",
            "load",
            "play",
            "rebuffer_end",
            "end",
            "qoe",
            "pause"
        ]
    );
    assert!(records[0].get("view_id").is_none(), "before the first load");
    assert!(records[6].get("view_id").is_none(), "after the close");
    let view_id = records[1]["view_id"].as_str().unwrap();
    for r in &records[1..6] {
        assert_eq!(r["view_id"], view_id);
    }
    let qoe = &records[5];
    assert_eq!(
        qoe["sequence"], 6,
        "the qoe record takes the number after the end"
    );
    assert_eq!(records[6]["sequence"], 7);
    assert_eq!(qoe["started"], true);
    assert_eq!(qoe["playback_failed"], false);
    assert_eq!(qoe["average_seek_latency"], serde_json::Value::Null);
    for field in [
        "score",
        "initial_buffer_time",
        "rebuffer_count",
        "rebuffer_duration",
        "quality_switches",
        "average_bitrate",
        "exit_before_video_start",
        "seek_count",
        "playing_time",
        "watch_time",
        "view_time",
        "rebuffer_ratio",
        "rebuffer_frequency",
        "upshifts",
        "downshifts",
        "error_count",
        "startup_score",
        "smoothness_score",
        "playback_success_score",
    ] {
        assert!(qoe.get(field).is_some(), "qoe record lacks {field}");
    }
    let s = emitter.stats();
    assert_eq!(s.emitted, 7, "6 calls + 1 qoe record");
    assert_eq!(s.emitted, s.delivered + s.failed + s.queued);
}

#[test]
fn load_then_load_gives_two_views_and_free_closes_the_last() {
    let collector = Collector::start();
    let emitter = emitter_for(&collector);
    emitter.emit(load("https://cdn/a.m3u8")).unwrap();
    emitter
        .emit(AnalyticsEvent::Play { position: 0.0 })
        .unwrap();
    emitter.emit(load("https://cdn/b.m3u8")).unwrap();
    drop(emitter); // closes view b
    let records = collector.accepted_records();
    let qoes: Vec<&serde_json::Value> = records.iter().filter(|r| r["event"] == "qoe").collect();
    assert_eq!(qoes.len(), 2);
    let ids: HashSet<&str> = qoes
        .iter()
        .map(|r| r["view_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "two distinct views");
    assert_eq!(qoes[0]["started"], true);
    assert_eq!(qoes[1]["started"], false);
    assert_eq!(qoes[1]["exit_before_video_start"], true);
    assert_eq!(qoes[1]["playback_success_score"], 50.0);
    assert_eq!(qoes[1]["initial_buffer_time"], serde_json::Value::Null);
    let loads: Vec<&serde_json::Value> = records.iter().filter(|r| r["event"] == "load").collect();
    assert_eq!(loads[0]["view_id"], qoes[0]["view_id"]);
    assert_eq!(loads[1]["view_id"], qoes[1]["view_id"]);
}

#[test]
fn the_c_struct_agrees_with_the_qoe_record() {
    let collector = Collector::start();
    let url = std::ffi::CString::new(collector.url()).unwrap();
    let cfg = kino::ffi::config::kino_config_new();
    assert_eq!(
        kino::ffi::config::kino_config_set_beacon_url(cfg, url.as_ptr()),
        KinoStatus::Ok
    );
    let mut h: *mut KinoEmitter = std::ptr::null_mut();
    assert_eq!(kino_emitter_new(cfg, &mut h), KinoStatus::Ok);
    kino::ffi::config::kino_config_free(cfg);
    use kino::ffi::emit::*;
    let media = c"https://cdn/x.m3u8";
    assert_eq!(kino_emit_load(h, media.as_ptr(), false), KinoStatus::Ok);
    let hd = KinoResolution {
        width: 1280,
        height: 720,
    };
    kino_emit_quality_change(h, 0, 3_000_000, std::ptr::null(), &hd, 3);
    kino_emit_play(h, 0.0);
    kino_emit_quality_change(h, 3_000_000, 1_000_000, &hd, std::ptr::null(), 2);
    kino_emit_rebuffer(h, 1.0, 0.0);
    kino_emit_rebuffer_end(h, 1.0, 0.0);
    kino_emit_seek(h, 1.0, 50.0);
    kino_emit_play(h, 50.0);
    kino_emit_error(h, c"E".as_ptr(), c"bad".as_ptr(), false, 50.0);
    assert_eq!(kino_emit_end(h, 51.0, 3.0), KinoStatus::Ok);
    let mut out = KinoQoeBreakdown::from_zero();
    assert_eq!(kino_emitter_qoe(h, &mut out), KinoStatus::Ok);
    assert_eq!(
        kino::ffi::emitter::kino_emitter_flush(h, 10_000),
        KinoStatus::Ok
    );
    kino_emitter_free(h);
    let records = collector.accepted_records();
    let q = records
        .iter()
        .find(|r| r["event"] == "qoe")
        .expect("qoe record");
    let f = |name: &str| q[name].as_f64().unwrap_or(f64::NAN);
    // serde_json parses floats to within an ulp, not always exactly.
    let same =
        |a: f64, b: f64| (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * a.abs().max(1.0);
    assert!(same(out.score, f("score")));
    assert!(same(out.initial_buffer_time, f("initial_buffer_time")));
    assert_eq!(
        u64::from(out.rebuffer_count),
        q["rebuffer_count"].as_u64().unwrap()
    );
    assert_eq!(out.rebuffer_count, 1);
    assert!(same(out.rebuffer_duration, f("rebuffer_duration")));
    assert_eq!(
        out.quality_switches, 1,
        "the initial rendition is not a switch"
    );
    assert_eq!(
        u64::from(out.quality_switches),
        q["quality_switches"].as_u64().unwrap()
    );
    assert_eq!(out.average_bitrate, q["average_bitrate"].as_u64().unwrap());
    assert_eq!(out.seek_count, 1);
    assert!(same(out.average_seek_latency, f("average_seek_latency")));
    assert!(same(out.playing_time, f("playing_time")));
    assert!(same(out.watch_time, f("watch_time")));
    assert!(same(out.view_time, f("view_time")));
    assert!(same(out.rebuffer_ratio, f("rebuffer_ratio")));
    assert_eq!(out.downshifts, 1);
    assert_eq!(u64::from(out.downshifts), q["downshifts"].as_u64().unwrap());
    assert_eq!(out.error_count, 1);
    assert!(same(out.startup_score, f("startup_score")));
    assert!(same(out.smoothness_score, f("smoothness_score")));
    assert_eq!(out.playback_success_score, 100.0);
    assert!(out.started && !out.playback_failed && !out.exit_before_video_start);
}

#[test]
fn qoe_before_any_load_is_zeros() {
    let mut h: *mut KinoEmitter = std::ptr::null_mut();
    assert_eq!(kino_emitter_new(std::ptr::null(), &mut h), KinoStatus::Ok);
    let mut out = KinoQoeBreakdown::from_zero();
    out.score = 42.0;
    assert_eq!(kino_emitter_qoe(h, &mut out), KinoStatus::Ok);
    assert_eq!(out.score, 0.0);
    assert!(!out.started);
    kino_emitter_free(h);
}

#[test]
fn p1203_export_sizes_and_writes() {
    use kino::ffi::emitter::kino_emitter_export_p1203;
    let mut h: *mut KinoEmitter = std::ptr::null_mut();
    assert_eq!(kino_emitter_new(std::ptr::null(), &mut h), KinoStatus::Ok);
    let mut needed = 0usize;
    assert_eq!(
        kino_emitter_export_p1203(h, 25.0, std::ptr::null_mut(), 0, &mut needed),
        KinoStatus::InvalidArgument,
        "no view yet"
    );
    kino::ffi::emit::kino_emit_load(h, c"https://cdn/x".as_ptr(), false);
    kino::ffi::emit::kino_emit_play(h, 0.0);
    assert_eq!(
        kino_emitter_export_p1203(h, f64::NAN, std::ptr::null_mut(), 0, &mut needed),
        KinoStatus::InvalidArgument
    );
    assert_eq!(
        kino_emitter_export_p1203(h, 25.0, std::ptr::null_mut(), 0, &mut needed),
        KinoStatus::BufferTooSmall
    );
    assert!(needed > 2);
    let mut buf = vec![0x55u8; needed];
    let mut small = vec![0x55u8; needed - 1];
    assert_eq!(
        kino_emitter_export_p1203(h, 25.0, small.as_mut_ptr().cast(), small.len(), &mut needed),
        KinoStatus::BufferTooSmall
    );
    assert!(
        small.iter().all(|&b| b == 0x55),
        "nothing written on BUFFER_TOO_SMALL"
    );
    // The view is still open, so its playing time grows: ask with room.
    buf.resize(needed + 256, 0);
    assert_eq!(
        kino_emitter_export_p1203(h, 25.0, buf.as_mut_ptr().cast(), buf.len(), &mut needed),
        KinoStatus::Ok
    );
    let text = std::ffi::CStr::from_bytes_until_nul(&buf)
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(text.len() + 1, needed);
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    for key in ["I11", "I13", "I23", "IGen"] {
        assert!(v.get(key).is_some(), "{key} missing in {text}");
    }
    kino_emitter_free(h);
}
