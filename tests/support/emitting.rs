//! Driving an emitter from a test: the events most tests emit, a
//! fresh directory for a spool, and a bounded wait on the counters where
//! a flush cannot tell (an event written to the spool already counts as
//! dealt with by flush; batches resent from disk are not this emitter's).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kino::event::{AnalyticsEvent, QualityChangeReason, Resolution};
use kino::stats::StatsSnapshot;
use kino::Emitter;

/// A heartbeat whose position and decoded frames are `i`.
pub fn heartbeat(i: u64) -> AnalyticsEvent {
    AnalyticsEvent::Heartbeat {
        position: i as f64,
        buffer_level: 1.0,
        bitrate: 1_000_000,
        dropped_frames: 0,
        decoded_frames: i,
    }
}

/// The first rendition of a view: 480p at 800 kbit/s.
pub fn initial_480p() -> AnalyticsEvent {
    AnalyticsEvent::QualityChange {
        from_bitrate: 0,
        to_bitrate: 800_000,
        from_resolution: None,
        to_resolution: Some(Resolution {
            width: 854,
            height: 480,
        }),
        reason: QualityChangeReason::Initial,
    }
}

/// Emits heartbeats 0..n, each of which must be accepted.
pub fn emit_heartbeats(emitter: &Emitter, n: u64) {
    for i in 0..n {
        emitter.emit(heartbeat(i)).unwrap();
    }
}

/// An empty directory of this process named after `name`, emptied first
/// if an earlier run left it.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kino-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Reads the emitter's stats every 10 ms until `pred` holds or `wait`
/// runs out, and returns the last ones: the caller asserts on them, so a
/// wait that ran out fails there, with the counters in the message.
/// Polling is the only way: kino has no call that blocks until a counter
/// changes.
pub fn wait_for_stats(
    emitter: &Emitter,
    wait: Duration,
    pred: impl Fn(&StatsSnapshot) -> bool,
) -> StatsSnapshot {
    let deadline = Instant::now() + wait;
    loop {
        let s = emitter.stats();
        if pred(&s) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
