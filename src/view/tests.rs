//! The tracker's hand-computed cases.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;
use crate::event::{PlayerState, QualityChangeReason, Resolution};
use AnalyticsEvent as E;

const T0: i64 = 1_700_000_000_000;

/// The monotonic reading `ms` after the test's origin.
fn ts(ms: i64) -> Mono {
    Mono::from_millis((T0 + ms) as u64)
}

/// An event at `ms` on both clocks.
fn at(ms: i64, event: AnalyticsEvent) -> StampedEvent {
    StampedEvent {
        sequence: 0,
        mono: ts(ms),
        timestamp: DateTime::<Utc>::from_timestamp_millis(T0 + ms).unwrap(),
        event,
    }
}

fn load() -> E {
    E::Load {
        url: "https://cdn.example/v.m3u8".into(),
        is_live: false,
    }
}
fn play() -> E {
    E::Play { position: 0.0 }
}
fn pause() -> E {
    E::Pause { position: 0.0 }
}
fn seek() -> E {
    E::Seek {
        from: 0.0,
        to: 60.0,
    }
}
fn rebuffer() -> E {
    E::Rebuffer {
        position: 0.0,
        buffer_level: 0.0,
    }
}
fn rebuffer_end(duration: f64) -> E {
    E::RebufferEnd {
        position: 0.0,
        duration,
    }
}
fn state(from: PlayerState, to: PlayerState) -> E {
    E::StateChange {
        from,
        to,
        position: 0.0,
    }
}
fn res(width: u32, height: u32) -> Option<Resolution> {
    Some(Resolution { width, height })
}
fn quality(from: u64, to: u64, to_res: Option<Resolution>, reason: QualityChangeReason) -> E {
    E::QualityChange {
        from_bitrate: from,
        to_bitrate: to,
        from_resolution: None,
        to_resolution: to_res,
        reason,
    }
}
fn heartbeat(bitrate: u64) -> E {
    E::Heartbeat {
        position: 0.0,
        buffer_level: 5.0,
        bitrate,
        dropped_frames: 0,
        decoded_frames: 0,
    }
}
fn end() -> E {
    E::End {
        position: 0.0,
        watch_time: 999.0,
    }
}
fn error(fatal: bool) -> E {
    E::Error {
        code: "E1".into(),
        message: "boom".into(),
        fatal,
        position: 0.0,
    }
}

/// Feeds the events; returns the tracker and every `Observed`.
fn run(events: Vec<StampedEvent>) -> (ViewTracker, Vec<Observed>) {
    let mut t = ViewTracker::new();
    let seen = events.iter().map(|e| t.observe(e)).collect();
    (t, seen)
}

/// The figures of the only view, closed by the last event.
fn closed_figures(events: Vec<StampedEvent>) -> ViewFigures {
    let (_, seen) = run(events);
    let closed: Vec<_> = seen.into_iter().filter_map(|o| o.closed).collect();
    assert_eq!(closed.len(), 1, "one view closed");
    closed.into_iter().next().unwrap().figures
}

fn approx(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn clean_view() {
    let f = closed_figures(vec![
        at(0, load()),
        at(
            500,
            quality(0, 3_000_000, res(1280, 720), QualityChangeReason::Initial),
        ),
        at(1000, play()),
        at(11_000, heartbeat(3_000_000)),
        at(21_000, end()),
    ]);
    let expected = ViewFigures {
        score: 100.0,
        initial_buffer_time: Some(1.0),
        rebuffer_count: 0,
        rebuffer_duration: 0.0,
        quality_switches: 0,
        average_bitrate: 3_000_000,
        started: true,
        playback_failed: false,
        exit_before_video_start: false,
        seek_count: 0,
        average_seek_latency: None,
        playing_time: 20.0,
        watch_time: 20.0,
        view_time: 21.0,
        rebuffer_ratio: 0.0,
        rebuffer_frequency: 0.0,
        upshifts: 0,
        downshifts: 0,
        error_count: 0,
        startup_score: Some(800.0 / 9.0),
        smoothness_score: Some(100.0),
        playback_success_score: 100.0,
    };
    assert_eq!(f, expected);
}

#[test]
fn slow_startup() {
    let f = closed_figures(vec![at(0, load()), at(5000, play()), at(15_000, end())]);
    assert_eq!(f.initial_buffer_time, Some(5.0));
    assert_eq!(f.score, 85.0);
    approx(f.startup_score.unwrap(), 800.0 / 13.0);
    assert_eq!(f.average_bitrate, 0, "no bitrate known");
    assert_eq!(f.playing_time, 10.0);
    assert_eq!(f.view_time, 15.0);
    assert_eq!(f.smoothness_score, Some(100.0));
}

#[test]
fn rebuffers_with_and_without_given_durations() {
    let f = closed_figures(vec![
        at(0, load()),
        at(1000, play()),
        at(11_000, rebuffer()),
        at(13_000, rebuffer_end(1.5)), // given, shorter than the 2 s wall time
        at(23_000, rebuffer()),
        at(26_000, rebuffer_end(0.0)), // not given: 3 s wall time
        at(31_000, end()),
    ]);
    assert_eq!(f.rebuffer_count, 2);
    approx(f.rebuffer_duration, 4.5);
    approx(f.playing_time, 25.0);
    approx(f.watch_time, 29.5);
    approx(f.rebuffer_ratio, 4.5 / 29.5);
    approx(f.rebuffer_frequency, 2.0 * 60.0 / 29.5);
    approx(f.score, 100.0 - 20.0 - 22.5);
    let smooth = (100.0 / 2f64.sqrt() + 100.0 * (-10.0 * 4.5 / 29.5f64).exp()) / 2.0;
    approx(f.smoothness_score.unwrap(), smooth);
    assert_eq!(f.view_time, 31.0);
}

#[test]
fn a_given_duration_is_taken_as_the_player_measured_it() {
    let f = closed_figures(vec![
        at(0, load()),
        at(0, play()),
        at(1000, rebuffer()),
        at(3000, rebuffer_end(10.0)),
        at(5000, end()),
    ]);
    assert_eq!(f.rebuffer_duration, 10.0);
    assert_eq!(f.playing_time, 3.0);
    assert_eq!(f.watch_time, 13.0);
    approx(f.rebuffer_ratio, 10.0 / 13.0);
}

#[test]
fn a_seek_that_stalls_is_seek_latency() {
    let f = closed_figures(vec![
        at(0, load()),
        at(1000, play()),
        at(11_000, seek()),
        at(11_500, rebuffer()), // during the seek: not a stall
        at(13_000, rebuffer_end(1.5)),
        at(18_000, seek()),
        at(18_500, state(PlayerState::Seeking, PlayerState::Playing)),
        at(23_000, end()),
    ]);
    assert_eq!(f.rebuffer_count, 0);
    assert_eq!(f.rebuffer_duration, 0.0);
    assert_eq!(f.seek_count, 2);
    assert_eq!(f.average_seek_latency, Some(1.25));
    approx(f.playing_time, 19.5);
    assert_eq!(f.watch_time, f.playing_time);
}

#[test]
fn a_seek_during_a_stall_ends_the_stall() {
    let f = closed_figures(vec![
        at(0, load()),
        at(0, play()),
        at(2000, rebuffer()),
        at(3000, seek()),
        at(5000, rebuffer_end(0.0)),
        at(6000, end()),
    ]);
    assert_eq!(f.rebuffer_count, 1);
    assert_eq!(f.rebuffer_duration, 1.0);
    assert_eq!(f.average_seek_latency, Some(2.0));
    assert_eq!(f.playing_time, 3.0);
}

#[test]
fn pause_during_playback() {
    let f = closed_figures(vec![
        at(0, load()),
        at(1000, play()),
        at(5000, pause()),
        at(8000, play()),
        at(10_000, end()),
    ]);
    assert_eq!(f.playing_time, 6.0);
    assert_eq!(f.watch_time, 6.0);
    assert_eq!(f.view_time, 10.0);
    assert_eq!(f.rebuffer_count, 0);
    assert_eq!(f.score, 100.0);
}

#[test]
fn while_paused_no_stall_no_clock_and_a_seek_never_completes() {
    let f = closed_figures(vec![
        at(0, load()),
        at(0, play()),
        at(2000, pause()),
        at(2500, rebuffer()),        // ignored: paused
        at(3000, rebuffer_end(0.0)), // does not resume
        at(3500, seek()),            // never completes
        at(6000, end()),
    ]);
    assert_eq!(f.playing_time, 2.0);
    assert_eq!(f.rebuffer_count, 0);
    assert_eq!(f.seek_count, 1);
    assert_eq!(f.average_seek_latency, None);
}

#[test]
fn a_rebuffer_ended_by_pause() {
    let f = closed_figures(vec![
        at(0, load()),
        at(1000, play()),
        at(3000, rebuffer()),
        at(4500, pause()),
        at(6000, play()),
        at(8000, end()),
    ]);
    assert_eq!(f.rebuffer_count, 1);
    assert_eq!(f.rebuffer_duration, 1.5);
    assert_eq!(f.playing_time, 4.0);
    assert_eq!(f.watch_time, 5.5);
}

#[test]
fn engine_states_are_not_user_pauses_nor_stalls() {
    use PlayerState::*;
    let f = closed_figures(vec![
        at(0, load()),
        at(1000, play()),
        at(3000, rebuffer()),
        at(3000, state(Playing, Paused)), // GStreamer buffering pause
        at(3500, state(Paused, Buffering)),
        at(5000, state(Buffering, Playing)), // ends the stall
        at(7000, state(Playing, Paused)),    // clock stops
        at(8000, rebuffer_end(0.0)),         // no stall open; resumes
        at(10_000, end()),
    ]);
    assert_eq!(f.rebuffer_count, 1);
    assert_eq!(f.rebuffer_duration, 2.0);
    assert_eq!(f.playing_time, 6.0);

    let f = closed_figures(vec![
        at(0, load()),
        at(0, play()),
        at(1000, state(Playing, Buffering)),
        at(2000, state(Buffering, Playing)),
        at(3000, end()),
    ]);
    assert_eq!(f.rebuffer_count, 0, "BUFFERING alone is not a stall");
    assert_eq!(f.playing_time, 2.0);
}

#[test]
fn quality_ladder_up_and_down() {
    use QualityChangeReason::*;
    let f = closed_figures(vec![
        at(0, load()),
        at(0, quality(0, 1_000_000, res(640, 360), Initial)),
        at(1000, play()),
        at(5000, quality(1_000_000, 3_000_000, res(1280, 720), Abr)),
        at(9000, quality(3_000_000, 6_000_000, res(1920, 1080), Abr)),
        at(
            13_000,
            quality(6_000_000, 3_000_000, res(1280, 720), Buffer),
        ),
        at(
            15_000,
            quality(3_000_000, 3_000_000, res(1280, 720), Manual),
        ),
        at(21_000, end()),
    ]);
    assert_eq!(f.quality_switches, 4);
    assert_eq!(f.upshifts, 2);
    assert_eq!(f.downshifts, 1);
    // (4·1 + 4·3 + 4·6 + 2·3 + 6·3) Mbit / 20 s
    assert_eq!(f.average_bitrate, 3_200_000);
    assert_eq!(f.score, 100.0 - 8.0 + 2.0);
}

#[test]
fn a_switch_before_start_counts() {
    let f = closed_figures(vec![
        at(0, load()),
        at(500, quality(0, 1_000_000, None, QualityChangeReason::Abr)),
        at(1000, end()),
    ]);
    assert_eq!(f.quality_switches, 1);
    assert_eq!(f.upshifts, 1);
    assert!(f.exit_before_video_start);
}

#[test]
fn fatal_error_before_start() {
    let (t, seen) = run(vec![at(0, load()), at(3000, error(true)), at(4000, play())]);
    let id = seen[0].view_id.unwrap();
    assert_eq!(
        seen[1].view_id,
        Some(id),
        "the closing error belongs to the view"
    );
    let closed = seen[1].closed.clone().unwrap();
    assert_eq!(closed.view_id, id);
    let f = closed.figures;
    assert!(f.playback_failed);
    assert!(!f.started);
    assert!(!f.exit_before_video_start);
    assert_eq!(f.initial_buffer_time, None);
    assert_eq!(f.startup_score, None);
    assert_eq!(f.smoothness_score, None);
    assert_eq!(f.playback_success_score, 0.0);
    assert_eq!(f.error_count, 1);
    assert_eq!(f.view_time, 3.0);
    assert_eq!(f.score, 100.0, "initial buffer counts as 0");
    assert_eq!(seen[2], Observed::default(), "after the close: no view");
    assert_eq!(
        t.current(ts(60_000)),
        Some(f),
        "last closed view, unchanged"
    );
}

#[test]
fn fatal_error_after_start() {
    let f = closed_figures(vec![
        at(0, load()),
        at(1000, play()),
        at(2000, error(false)),
        at(5000, error(true)),
    ]);
    assert!(f.playback_failed && f.started);
    assert!(!f.exit_before_video_start);
    assert_eq!(f.error_count, 2);
    assert_eq!(f.playing_time, 4.0);
    assert_eq!(f.playback_success_score, 0.0);
    approx(f.startup_score.unwrap(), 800.0 / 9.0);
}

#[test]
fn load_then_load_gives_two_views() {
    let (_, seen) = run(vec![
        at(0, load()),
        at(1000, play()),
        at(5000, load()),
        at(7000, end()),
    ]);
    let first = seen[0].view_id.unwrap();
    let second = seen[2].view_id.unwrap();
    assert_ne!(first, second);
    assert_eq!(seen[1].view_id, Some(first));
    let a = seen[2].closed.clone().unwrap();
    assert_eq!(a.view_id, first);
    assert_eq!(a.figures.playing_time, 4.0);
    assert_eq!(a.figures.view_time, 5.0);
    assert!(!a.figures.exit_before_video_start);
    assert_eq!(seen[3].view_id, Some(second));
    let b = seen[3].closed.clone().unwrap();
    assert_eq!(b.view_id, second);
    assert!(b.figures.exit_before_video_start);
    assert_eq!(b.figures.playback_success_score, 50.0);
    assert_eq!(b.figures.view_time, 2.0);
    assert_eq!(b.figures.playing_time, 0.0);
}

#[test]
fn closed_before_start_without_error() {
    let f = closed_figures(vec![at(0, load()), at(2000, end())]);
    assert!(f.exit_before_video_start);
    assert!(!f.playback_failed && !f.started);
    assert_eq!(f.playback_success_score, 50.0);
    assert_eq!(f.initial_buffer_time, None);
    assert_eq!(f.score, 100.0);
    assert_eq!(f.view_time, 2.0);
}

#[test]
fn events_before_the_first_load_have_no_view() {
    let (t, seen) = run(vec![at(0, play()), at(1000, heartbeat(1)), at(2000, end())]);
    assert!(seen.iter().all(|o| *o == Observed::default()));
    assert_eq!(t.current(ts(3000)), None);
    assert_eq!(t.p1203_json(25.0, ts(3000)), None);
}

#[test]
fn close_twice_returns_none_the_second_time() {
    let (mut t, _) = run(vec![at(0, load()), at(1000, play())]);
    let closed = t.close(ts(3000)).unwrap();
    assert_eq!(closed.figures.playing_time, 2.0);
    assert!(t.close(ts(4000)).is_none());
    assert_eq!(t.current(ts(9000)), Some(closed.figures));

    let (mut t, _) = run(vec![at(0, load()), at(1000, end())]);
    assert!(t.close(ts(2000)).is_none(), "end already closed it");
}

#[test]
fn heartbeat_bitrate_weighting() {
    let f = closed_figures(vec![
        at(0, load()),
        at(0, play()),
        at(2000, heartbeat(2_000_000)), // the first 2 s have no known bitrate
        at(6000, heartbeat(4_000_000)),
        at(8000, heartbeat(0)), // ignored
        at(10_000, end()),
    ]);
    assert_eq!(f.playing_time, 10.0);
    assert_eq!(f.average_bitrate, 3_000_000); // (4·2 + 4·4) / 8
}

#[test]
fn current_runs_open_clocks_to_now() {
    let (t, _) = run(vec![at(0, load()), at(1000, play()), at(3000, rebuffer())]);
    let f = t.current(ts(5000)).unwrap();
    assert_eq!(f.playing_time, 2.0);
    assert_eq!(f.rebuffer_count, 1);
    assert_eq!(f.rebuffer_duration, 2.0);
    assert_eq!(f.watch_time, 4.0);
    assert_eq!(f.view_time, 5.0);
    assert!(!f.exit_before_video_start);
    assert_eq!(f.playback_success_score, 100.0);
}

#[test]
fn backwards_timestamps_count_as_zero() {
    let f = closed_figures(vec![
        at(10_000, load()),
        at(5000, play()),
        at(3000, rebuffer()),
        at(1000, rebuffer_end(0.0)), // no given duration: wall time, backwards
        at(0, end()),
    ]);
    assert_eq!(f.initial_buffer_time, Some(0.0));
    assert_eq!(f.playing_time, 0.0);
    assert_eq!(f.rebuffer_duration, 0.0);
    assert_eq!(f.view_time, 0.0);
    assert_eq!(f.rebuffer_ratio, 0.0);
    assert_eq!(f.rebuffer_frequency, 0.0);
}

#[test]
fn json_names_order_and_nulls() {
    let f = closed_figures(vec![at(0, load()), at(2000, end())]);
    let text = serde_json::to_string(&f).unwrap();
    let names = [
        "score",
        "initial_buffer_time",
        "rebuffer_count",
        "rebuffer_duration",
        "quality_switches",
        "average_bitrate",
        "started",
        "playback_failed",
        "exit_before_video_start",
        "seek_count",
        "average_seek_latency",
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
    ];
    let positions: Vec<usize> = names
        .iter()
        .map(|n| {
            text.find(&format!("\"{n}\":"))
                .unwrap_or_else(|| panic!("{n} missing"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "order: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v.as_object().unwrap().len(), names.len());
    for n in [
        "initial_buffer_time",
        "average_seek_latency",
        "startup_score",
        "smoothness_score",
    ] {
        assert!(v[n].is_null(), "{n} should be null");
    }
    assert_eq!(v["score"], 100.0);
    assert_eq!(v["exit_before_video_start"], true);
    assert_eq!(v["average_bitrate"], 0);
}

#[test]
fn p1203_structure() {
    use QualityChangeReason::*;
    let (t, _) = run(vec![
        at(0, load()),
        at(0, quality(0, 1_000_000, res(640, 360), Initial)),
        at(2000, play()),
        at(6000, quality(1_000_000, 3_000_000, res(1280, 720), Abr)),
        at(10_000, rebuffer()),
        at(11_000, rebuffer_end(0.0)),
        at(15_000, end()),
    ]);
    let text = t.p1203_json(24.0, ts(99_000)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["I13"],
        json!({"streamId": 1, "segments": [
            {"codec": "h264", "bitrate": 1000.0, "fps": 24.0, "resolution": "640x360",
             "start": 0.0, "duration": 4.0},
            {"codec": "h264", "bitrate": 3000.0, "fps": 24.0, "resolution": "1280x720",
             "start": 4.0, "duration": 8.0},
        ]})
    );
    assert_eq!(
        v["I23"],
        json!({"streamId": 1, "stalling": [[0.0, 2.0], [8.0, 1.0]]})
    );
    assert_eq!(
        v["I11"],
        json!({"streamId": 1, "segments": [
            {"codec": "aaclc", "bitrate": 128.0, "start": 0.0, "duration": 4.0},
            {"codec": "aaclc", "bitrate": 128.0, "start": 4.0, "duration": 8.0},
        ]})
    );
    assert_eq!(
        v["IGen"],
        json!({"device": "pc", "displaySize": "1920x1080", "viewingDistance": "150cm"})
    );
}

#[test]
fn p1203_open_view_without_resolution() {
    let (t, _) = run(vec![
        at(0, load()),
        at(0, play()),
        at(0, heartbeat(2_000_000)),
        at(3000, rebuffer()),
        at(4000, rebuffer_end(0.0)),
    ]);
    let v: Value = serde_json::from_str(&t.p1203_json(30.0, ts(6000)).unwrap()).unwrap();
    assert_eq!(
        v["I13"]["segments"],
        json!([{"codec": "h264", "bitrate": 2000.0, "fps": 30.0, "start": 0.0, "duration": 5.0}])
    );
    assert_eq!(
        v["I23"]["stalling"],
        json!([[3.0, 1.0]]),
        "no initial stall"
    );
}

#[test]
fn p1203_lists_are_capped() {
    let mut events = vec![at(0, load()), at(0, play())];
    for i in 1..=(MAX_P1203_ENTRIES as i64 + 5000) {
        let (from, to) = if i % 2 == 0 { (2, 1) } else { (1, 2) };
        events.push(at(i, quality(from, to, None, QualityChangeReason::Abr)));
        events.push(at(i, rebuffer()));
        events.push(at(i, play()));
    }
    let (mut t, _) = run(events);
    let closed = t.close(ts(20_000)).unwrap();
    let view = t.last.as_ref().unwrap();
    assert_eq!(view.segments.len(), MAX_P1203_ENTRIES);
    assert_eq!(view.stalls.len(), MAX_P1203_ENTRIES);
    let total: f64 = view.segments.iter().map(|s| s.duration).sum();
    approx(total, closed.figures.playing_time);
    approx(closed.figures.playing_time, 20.0);
}
