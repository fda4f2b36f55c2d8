//! Wall-clock steps mid-view (issue 8 §3): an NTP step or a user changing
//! the clock moves the records' timestamps, never the QoE figures, which
//! are measured on the monotonic clock. The wall clock is stepped through
//! the emitter's test seam, an hour back and then two forward, while a
//! view plays, stalls and ends.
//!
//! The figures are checked against bounds the test measures itself with
//! `Instant` around each call (a reading inside a call lies between the
//! readings before and after it), so nothing here depends on how long the
//! machine takes.

mod support;

use std::sync::atomic::{AtomicI64, Ordering::SeqCst};
use std::time::{Duration, Instant, SystemTime};

use kino::event::AnalyticsEvent;
use kino::{Config, Emitter};
use support::collector::Collector;

/// Seconds added to the real wall clock (what the test's clock reads).
static WALL_OFFSET_S: AtomicI64 = AtomicI64::new(0);

fn stepped_wall_clock() -> SystemTime {
    let offset = WALL_OFFSET_S.load(SeqCst);
    let now = SystemTime::now();
    if offset >= 0 {
        now + Duration::from_secs(offset as u64)
    } else {
        now - Duration::from_secs(offset.unsigned_abs())
    }
}

/// Emits `event` and has the queue drained at once (so the record is dated
/// with the wall clock as it reads now); returns the instants before and
/// after the call.
fn emit(emitter: &Emitter, event: AnalyticsEvent) -> (Instant, Instant) {
    let before = Instant::now();
    emitter.emit(event).unwrap();
    let after = Instant::now();
    emitter.qoe();
    (before, after)
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[test]
fn stepping_the_wall_clock_mid_view_changes_timestamps_not_figures() {
    let collector = Collector::start();
    let mut config = Config::default();
    config.set_beacon_url(Some(&collector.url())).unwrap();
    config.set_wall_clock(stepped_wall_clock);
    let emitter = Emitter::new(&config).unwrap();

    let pause = || std::thread::sleep(Duration::from_millis(60)); // playback goes on
    let load = emit(
        &emitter,
        AnalyticsEvent::Load {
            url: "https://cdn.example/v.m3u8".into(),
            is_live: false,
        },
    );
    pause();
    let play = emit(&emitter, AnalyticsEvent::Play { position: 0.0 });
    pause();
    WALL_OFFSET_S.store(-3600, SeqCst); // the clock is set an hour back
    let stall = emit(
        &emitter,
        AnalyticsEvent::Rebuffer {
            position: 1.0,
            buffer_level: 0.0,
        },
    );
    pause();
    WALL_OFFSET_S.store(3600, SeqCst); // and then an hour ahead
    let resumed = emit(
        &emitter,
        AnalyticsEvent::RebufferEnd {
            position: 1.0,
            duration: 0.0, // not measured by the player: kino measures it
        },
    );
    pause();
    let end = emit(
        &emitter,
        AnalyticsEvent::End {
            position: 2.0,
            watch_time: 2.0,
        },
    );
    emitter.flush(Duration::from_secs(10)).unwrap();

    let f = emitter.qoe().expect("the closed view");
    let within = |what: &str, value: f64, from: (Instant, Instant), to: (Instant, Instant)| {
        let low = secs(to.0.saturating_duration_since(from.1));
        let high = secs(to.1.duration_since(from.0));
        assert!(
            (low..=high).contains(&value),
            "{what} = {value} s, outside [{low}, {high}] measured around the calls"
        );
    };
    within(
        "initial_buffer_time",
        f.initial_buffer_time.unwrap(),
        load,
        play,
    );
    within("rebuffer_duration", f.rebuffer_duration, stall, resumed);
    within("view_time", f.view_time, load, end);
    let playing_low = secs(stall.0.saturating_duration_since(play.1))
        + secs(end.0.saturating_duration_since(resumed.1));
    let playing_high = secs(stall.1.duration_since(play.0)) + secs(end.1.duration_since(resumed.0));
    assert!(
        (playing_low..=playing_high).contains(&f.playing_time),
        "playing_time {} outside [{playing_low}, {playing_high}]",
        f.playing_time
    );
    assert_eq!(f.rebuffer_count, 1);

    // The timestamps are the wall clock's, steps included.
    let records = collector.accepted_records();
    let stamp = |event: &str| -> chrono::DateTime<chrono::Utc> {
        let r = records.iter().find(|r| r["event"] == event).unwrap();
        r["timestamp"].as_str().unwrap().parse().unwrap()
    };
    let back = stamp("play") - stamp("rebuffer");
    assert!(
        (3590..=3610).contains(&back.num_seconds()),
        "the rebuffer is dated an hour before the play: {back}"
    );
    let ahead = stamp("rebuffer_end") - stamp("rebuffer");
    assert!(
        (7190..=7210).contains(&ahead.num_seconds()),
        "the stall's end is dated two hours after its start: {ahead}"
    );
    let s = emitter.stats();
    assert_eq!(s.emitted, s.delivered + s.failed + s.queued);
}
