//! Property tests for the per-view tracker (`kino::view`): random event
//! sequences, with increasing or arbitrary timestamps, never break it.

use std::collections::HashSet;

use chrono::{DateTime, Duration};
use kino::clock::Mono;
use kino::event::{AnalyticsEvent, PlayerState, QualityChangeReason, Resolution, StampedEvent};
use kino::view::{ViewFigures, ViewTracker};
use proptest::prelude::*;
use uuid::Uuid;

/// Non-negative finite numbers, with the awkward ones over-represented.
fn num() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => 0.0..100.0f64,
        1 => Just(0.0),
        1 => 0.0..1e12f64,
        1 => prop::sample::select(vec![1e-310, f64::MIN_POSITIVE, 1e-9, 1e300, f64::MAX]),
    ]
}

fn bitrate() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), 1u64..10_000_000, any::<u64>(),]
}

fn player_state() -> impl Strategy<Value = PlayerState> {
    use PlayerState::*;
    prop::sample::select(vec![
        Idle, Loading, Playing, Paused, Buffering, Seeking, Ended, Error,
    ])
}

fn reason() -> impl Strategy<Value = QualityChangeReason> {
    use QualityChangeReason::*;
    prop::sample::select(vec![Abr, Manual, Buffer, Initial])
}

fn resolution() -> impl Strategy<Value = Option<Resolution>> {
    prop::option::of(
        (0u32..4000, 0u32..3000).prop_map(|(width, height)| Resolution { width, height }),
    )
}

fn event() -> impl Strategy<Value = AnalyticsEvent> {
    use AnalyticsEvent as E;
    prop_oneof![
        1 => any::<bool>().prop_map(|is_live| E::Load { url: "u".into(), is_live }),
        4 => num().prop_map(|position| E::Play { position }),
        2 => num().prop_map(|position| E::Pause { position }),
        2 => (num(), num()).prop_map(|(from, to)| E::Seek { from, to }),
        3 => (num(), num()).prop_map(|(position, buffer_level)| E::Rebuffer { position, buffer_level }),
        3 => (num(), num()).prop_map(|(position, duration)| E::RebufferEnd { position, duration }),
        2 => (bitrate(), bitrate(), resolution(), resolution(), reason()).prop_map(
            |(from_bitrate, to_bitrate, from_resolution, to_resolution, reason)| E::QualityChange {
                from_bitrate,
                to_bitrate,
                from_resolution,
                to_resolution,
                reason,
            }
        ),
        3 => (player_state(), player_state(), num())
            .prop_map(|(from, to, position)| E::StateChange { from, to, position }),
        1 => (num(), num()).prop_map(|(position, watch_time)| E::End { position, watch_time }),
        1 => (any::<bool>(), num()).prop_map(|(fatal, position)| E::Error {
            code: "E".into(),
            message: "m".into(),
            fatal,
            position,
        }),
        3 => (num(), num(), bitrate(), any::<u64>(), any::<u64>()).prop_map(
            |(position, buffer_level, bitrate, dropped_frames, decoded_frames)| E::Heartbeat {
                position,
                buffer_level,
                bitrate,
                dropped_frames,
                decoded_frames,
            }
        ),
        1 => Just(E::Custom { name: "c".into(), data: serde_json::Value::Null }),
    ]
}

/// A session: events with millisecond steps between them (negative steps
/// are made positive when `monotonic`).
fn session() -> impl Strategy<Value = (bool, Vec<(i64, AnalyticsEvent)>)> {
    (
        any::<bool>(),
        prop::collection::vec((-5_000i64..20_000, event()), 0..120),
    )
}

fn check_figures(f: &ViewFigures, monotonic: bool) {
    let plain = [
        ("score", f.score),
        ("rebuffer_duration", f.rebuffer_duration),
        ("playing_time", f.playing_time),
        ("watch_time", f.watch_time),
        ("view_time", f.view_time),
        ("rebuffer_ratio", f.rebuffer_ratio),
        ("rebuffer_frequency", f.rebuffer_frequency),
        ("playback_success_score", f.playback_success_score),
    ];
    let optional = [
        ("initial_buffer_time", f.initial_buffer_time),
        ("average_seek_latency", f.average_seek_latency),
        ("startup_score", f.startup_score),
        ("smoothness_score", f.smoothness_score),
    ];
    for (name, v) in plain
        .into_iter()
        .chain(optional.into_iter().filter_map(|(n, v)| v.map(|v| (n, v))))
    {
        assert!(v.is_finite(), "{name} = {v}");
        assert!(v >= 0.0, "{name} = {v}");
    }
    assert!((0.0..=1.0).contains(&f.rebuffer_ratio), "{f:?}");
    for s in [
        Some(f.score),
        f.startup_score,
        f.smoothness_score,
        Some(f.playback_success_score),
    ]
    .into_iter()
    .flatten()
    {
        assert!((0.0..=100.0).contains(&s), "score {s}: {f:?}");
    }
    assert!(f.watch_time >= f.playing_time, "{f:?}");
    assert!(f.watch_time >= f.rebuffer_duration, "{f:?}");
    assert_eq!(f.initial_buffer_time.is_some(), f.started);
    assert_eq!(f.startup_score.is_some(), f.started);
    assert_eq!(f.smoothness_score.is_some(), f.started);
    if f.exit_before_video_start {
        assert!(!f.started && !f.playback_failed);
    }
    if monotonic {
        // Playing time is a part of the view's time (stall durations the
        // player gives are taken as given, so only playing time is bound).
        assert!(f.playing_time <= f.view_time * (1.0 + 1e-9) + 1e-6, "{f:?}");
    }
    let text = serde_json::to_string(f).unwrap();
    assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (name, _) in plain {
        assert!(v[name].is_number(), "{name} in {text}");
    }
}

fn check_p1203(t: &ViewTracker, now: Mono) {
    if let Some(text) = t.p1203_json(25.0, now) {
        assert!(!text.contains("NaN") && !text.contains("null"), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        for key in ["I11", "I13", "I23", "IGen"] {
            assert!(v[key].is_object(), "{key} in {text}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_sessions_keep_every_invariant(
        (monotonic, steps) in session(),
        wall_steps in prop::collection::vec(-3_600_000i64..3_600_000, 64),
    ) {
        // Two clocks: the monotonic one the tracker measures with (it goes
        // back only when `monotonic` is false, to prove nothing panics), and
        // a wall clock stepped forward and back by up to an hour at every
        // event. A second tracker sees the same events with a wall clock
        // that never moves: the figures must not differ.
        const BASE_MS: i64 = 1_700_000_000_000;
        let mut mono_ms = BASE_MS;
        let mut wall = DateTime::from_timestamp_millis(BASE_MS).unwrap();
        let still_wall = wall;
        let mono = |ms: i64| Mono::from_millis(ms as u64);
        let mut t = ViewTracker::new();
        let mut still = ViewTracker::new();
        let mut open: Option<Uuid> = None;
        let mut seen_ids = HashSet::new();
        let mut closed_ids = HashSet::new();
        for (i, (step, event)) in steps.into_iter().enumerate() {
            let step = if monotonic { step.abs() } else { step };
            mono_ms += step;
            wall += Duration::milliseconds(wall_steps[i % wall_steps.len()]);
            let now = mono(mono_ms);
            let closes = matches!(
                event,
                AnalyticsEvent::End { .. } | AnalyticsEvent::Error { fatal: true, .. }
            );
            let is_load = matches!(event, AnalyticsEvent::Load { .. });
            let stamped = StampedEvent { sequence: i as u64 + 1, mono: now, timestamp: wall, event };
            let o = t.observe(&stamped);
            let o_still = still.observe(&StampedEvent { timestamp: still_wall, ..stamped });
            prop_assert_eq!(
                o.closed.as_ref().map(|c| &c.figures),
                o_still.closed.as_ref().map(|c| &c.figures),
                "a wall-clock step changed a closed view's figures"
            );

            // The view model: who owns this record, and what closed.
            if is_load {
                let id = o.view_id.expect("a load opens a view");
                prop_assert!(seen_ids.insert(id), "view ids are fresh");
                prop_assert_eq!(o.closed.as_ref().map(|c| c.view_id), open);
                open = Some(id);
            } else {
                prop_assert_eq!(o.view_id, open);
                if open.is_some() && closes {
                    prop_assert_eq!(o.closed.as_ref().map(|c| c.view_id), open);
                    open = None;
                } else {
                    prop_assert!(o.closed.is_none());
                }
            }
            if let Some(c) = &o.closed {
                prop_assert!(closed_ids.insert(c.view_id), "closed twice");
                check_figures(&c.figures, monotonic);
            }
            if let Some(f) = t.current(now) {
                check_figures(&f, monotonic);
                prop_assert_eq!(Some(f), still.current(now));
            }
            check_p1203(&t, now);
        }
        mono_ms += 1000;
        let now = mono(mono_ms);
        let last = t.close(now);
        prop_assert_eq!(last.as_ref().map(|c| c.view_id), open);
        if let Some(c) = last {
            prop_assert!(closed_ids.insert(c.view_id), "closed twice");
            check_figures(&c.figures, monotonic);
        }
        prop_assert!(t.close(now).is_none(), "close twice");
        check_p1203(&t, now);
    }
}
