//! Delivery end to end through the safe Rust API, against a real HTTP
//! collector on 127.0.0.1.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kino::event::{AnalyticsEvent, PlayerState, QualityChangeReason, Resolution};
use kino::transport::{BatchSink, Body, Failure, Outcome};
use kino::{Config, Emitter, ErrorKind};
use support::collector::{Collector, Reply};

const WAIT: Duration = Duration::from_secs(10);

fn config_for(collector: &Collector) -> Config {
    let mut c = Config::default();
    c.set_beacon_url(Some(&collector.url())).unwrap();
    c
}

fn every_event() -> Vec<AnalyticsEvent> {
    use AnalyticsEvent::*;
    let r = Resolution {
        width: 1280,
        height: 720,
    };
    vec![
        Load {
            url: "https://cdn.example/a.m3u8".into(),
            is_live: false,
        },
        StateChange {
            from: PlayerState::Idle,
            to: PlayerState::Loading,
            position: 0.0,
        },
        QualityChange {
            from_bitrate: 0,
            to_bitrate: 800_000,
            from_resolution: None,
            to_resolution: Some(r),
            reason: QualityChangeReason::Initial,
        },
        Play { position: 0.0 },
        Heartbeat {
            position: 10.0,
            buffer_level: 9.0,
            bitrate: 800_000,
            dropped_frames: 1,
            decoded_frames: 250,
        },
        Rebuffer {
            position: 11.0,
            buffer_level: 0.0,
        },
        RebufferEnd {
            position: 11.0,
            duration: 0.5,
        },
        Seek {
            from: 12.0,
            to: 60.0,
        },
        Pause { position: 61.0 },
        Error {
            code: "E1".into(),
            message: "minor".into(),
            fatal: false,
            position: 61.0,
        },
        Custom {
            name: "ad".into(),
            data: serde_json::json!({"k": [1, 2]}),
        },
        End {
            position: 90.0,
            watch_time: 80.0,
        },
    ]
}

#[test]
fn full_event_set_arrives_in_order_with_headers() {
    let collector = Collector::start();
    let mut config = config_for(&collector);
    config.add_header("X-Api-Key", "k123").unwrap();
    config.set_batch_size(5).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    let events = every_event();
    for e in &events {
        emitter.emit(e.clone()).unwrap();
    }
    emitter.flush(WAIT).unwrap();
    let records = collector.accepted_records();
    // The end closes the view: kino adds its qoe record right after it.
    let total = events.len() + 1;
    assert_eq!(records.len(), total);
    let seqs: Vec<u64> = records
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=total as u64).collect::<Vec<_>>());
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = events.iter().map(|e| e.name()).collect();
    expected.push("qoe");
    assert_eq!(names, expected);
    let ids: HashSet<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), total, "ids are unique");
    let session = emitter.session_id().to_string();
    assert!(records.iter().all(|r| r["session_id"] == session.as_str()));
    for b in collector.beacons() {
        assert_eq!(b.method, "POST");
        assert_eq!(b.header("content-type"), Some("application/json"));
        assert_eq!(b.header("x-api-key"), Some("k123"));
        assert_eq!(
            b.header("user-agent"),
            Some(format!("kino/{}", env!("CARGO_PKG_VERSION")).as_str())
        );
        assert!(b.records().len() <= 5, "batch size respected");
    }
    let s = emitter.stats();
    assert_eq!((s.emitted, s.delivered, s.failed, s.queued), (13, 13, 0, 0));
    assert_eq!(s.batches, collector.beacons().len() as u64);
}

#[test]
fn user_agent_can_be_overridden() {
    let collector = Collector::start();
    let mut config = config_for(&collector);
    config.add_header("User-Agent", "my-player/2.0").unwrap();
    let emitter = Emitter::new(&config).unwrap();
    emitter
        .emit(AnalyticsEvent::Play { position: 0.0 })
        .unwrap();
    emitter.flush(WAIT).unwrap();
    let b = &collector.beacons()[0];
    assert_eq!(b.header("user-agent"), Some("my-player/2.0"));
}

#[test]
fn end_is_sent_without_waiting_for_the_interval() {
    let collector = Collector::start();
    let mut config = config_for(&collector);
    config.set_flush_interval_ms(600_000).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    emitter
        .emit(AnalyticsEvent::Play { position: 0.0 })
        .unwrap();
    emitter
        .emit(AnalyticsEvent::End {
            position: 1.0,
            watch_time: 1.0,
        })
        .unwrap();
    // No flush: the end event itself must trigger delivery, long before
    // the ten-minute interval.
    assert!(
        collector.wait_for_records(2, WAIT),
        "end was not sent promptly"
    );
    let names: Vec<String> = collector
        .accepted_records()
        .iter()
        .map(|r| r["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["play", "end"], "queued events go with it, in order");
}

#[test]
fn fatal_error_is_sent_at_once() {
    let collector = Collector::start();
    let mut config = config_for(&collector);
    config.set_flush_interval_ms(600_000).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    let err = |fatal| AnalyticsEvent::Error {
        code: "E".into(),
        message: "m".into(),
        fatal,
        position: 0.0,
    };
    emitter.emit(err(false)).unwrap();
    emitter.emit(err(true)).unwrap();
    assert!(collector.wait_for_records(2, WAIT));
}

#[test]
fn full_batch_goes_without_flush_or_interval() {
    let collector = Collector::start();
    let mut config = config_for(&collector);
    config.set_flush_interval_ms(600_000).unwrap();
    config.set_batch_size(4).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    for i in 0..4 {
        emitter
            .emit(AnalyticsEvent::Play { position: i as f64 })
            .unwrap();
    }
    assert!(
        collector.wait_for_records(4, WAIT),
        "a full batch is sent by the poll"
    );
}

#[test]
fn interval_sends_a_partial_batch() {
    let collector = Collector::start();
    let mut config = config_for(&collector);
    config.set_flush_interval_ms(200).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    emitter
        .emit(AnalyticsEvent::Play { position: 0.0 })
        .unwrap();
    assert!(collector.wait_for_records(1, WAIT));
}

#[test]
fn eight_threads_of_ten_thousand_arrive_exactly_once() {
    let collector = Collector::start();
    let mut config = config_for(&collector);
    config.set_queue_capacity(100_000).unwrap();
    config.set_batch_size(1000).unwrap();
    let emitter = Arc::new(Emitter::new(&config).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let emitter = Arc::clone(&emitter);
            std::thread::spawn(move || {
                for i in 0..10_000u64 {
                    emitter
                        .emit(AnalyticsEvent::Heartbeat {
                            position: i as f64,
                            buffer_level: t as f64,
                            bitrate: t,
                            dropped_frames: i,
                            decoded_frames: 0,
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    emitter.flush(Duration::from_secs(60)).unwrap();
    let records = collector.accepted_records();
    assert_eq!(records.len(), 80_000);
    let seqs: HashSet<u64> = records
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs.len(), 80_000);
    assert_eq!(seqs.iter().max(), Some(&80_000));
    let per_thread: HashSet<(u64, u64)> = records
        .iter()
        .map(|r| {
            (
                r["bitrate"].as_u64().unwrap(),
                r["dropped_frames"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(per_thread.len(), 80_000, "every (thread, i) exactly once");
    for b in collector.beacons() {
        let s: Vec<u64> = b
            .records()
            .iter()
            .map(|r| r["sequence"].as_u64().unwrap())
            .collect();
        assert!(
            s.windows(2).all(|w| w[0] < w[1]),
            "each batch is oldest first"
        );
    }
    let s = emitter.stats();
    assert_eq!(
        (s.emitted, s.delivered, s.queued, s.dropped),
        (80_000, 80_000, 0, 0)
    );
}

/// A sink that tells when it is entered and blocks until released, so a
/// test can hold the worker still while it fills the queue.
struct GateSink {
    open: Mutex<bool>,
    cv: std::sync::Condvar,
    entered: crossbeam_channel::Sender<()>,
    got: Mutex<Vec<serde_json::Value>>,
}

impl BatchSink for GateSink {
    fn deliver(&self, body: &Body, _deadline: Instant) -> Outcome {
        let _ = self.entered.try_send(());
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.cv.wait(open).unwrap();
        }
        let v: Vec<serde_json::Value> = serde_json::from_slice(body.json()).unwrap();
        self.got.lock().unwrap().extend(v);
        Outcome::Delivered
    }
}

#[test]
fn full_queue_drops_count_and_leave_sequence_gaps() {
    let (entered_tx, entered_rx) = crossbeam_channel::unbounded();
    let sink = Arc::new(GateSink {
        open: Mutex::new(false),
        cv: std::sync::Condvar::new(),
        entered: entered_tx,
        got: Mutex::new(vec![]),
    });
    let mut config = Config::default();
    config.set_queue_capacity(4).unwrap();
    config.set_flush_interval_ms(600_000).unwrap();
    config.set_batch_sink(Some(sink.clone()));
    let emitter = Emitter::new(&config).unwrap();
    // An urgent event makes the worker deliver; it parks inside the sink.
    emitter
        .emit(AnalyticsEvent::End {
            position: 0.0,
            watch_time: 0.0,
        })
        .unwrap();
    entered_rx
        .recv_timeout(WAIT)
        .expect("worker entered the sink");
    // With the worker held, memory holds 4 events in all (the one in the
    // sink's hands counts): 3 more are taken, the rest dropped.
    let results: Vec<_> = (0..20)
        .map(|i| emitter.emit(AnalyticsEvent::Play { position: i as f64 }))
        .collect();
    assert!(results[..3].iter().all(|r| r.is_ok()));
    assert!(results[3..]
        .iter()
        .all(|r| matches!(r, Err(e) if e.kind == ErrorKind::QueueFull)));
    let stats = emitter.stats();
    assert_eq!((stats.emitted, stats.dropped, stats.queued), (4, 17, 4));
    *sink.open.lock().unwrap() = true;
    sink.cv.notify_all();
    emitter.flush(WAIT).unwrap();
    // The next accepted event takes number 22: 5..=21 were used by drops.
    assert_eq!(
        emitter
            .emit(AnalyticsEvent::Play { position: 9.0 })
            .unwrap(),
        22
    );
    emitter.flush(WAIT).unwrap();
    let got = sink.got.lock().unwrap().clone();
    let seqs: Vec<u64> = got
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4, 22]);
    let s = emitter.stats();
    assert_eq!(
        (s.emitted, s.delivered, s.failed, s.queued, s.dropped),
        (5, 5, 0, 0, 17)
    );
}

#[test]
fn hanging_collector_cannot_hold_up_emit_or_drop() {
    let collector = Collector::with_policy(|_| Reply::Hang);
    let mut config = config_for(&collector);
    config.set_shutdown_timeout_ms(500).unwrap();
    config.set_request_timeout_ms(30_000).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    emitter
        .emit(AnalyticsEvent::End {
            position: 0.0,
            watch_time: 0.0,
        })
        .unwrap();
    assert!(
        collector.wait_until(WAIT, |b| !b.is_empty()),
        "request reached the collector"
    );
    // The worker is now stuck in the request: emitting still returns at once.
    for i in 0..100 {
        emitter
            .emit(AnalyticsEvent::Play { position: i as f64 })
            .unwrap();
    }
    assert_eq!(
        emitter.flush(Duration::from_millis(100)).unwrap_err().kind,
        ErrorKind::Timeout
    );
    // Free gives up on the stuck worker and returns (how long it takes is
    // measured by `cargo bench --bench free_bound`, not asserted here).
    drop(emitter);
}

#[test]
fn refused_batches_count_as_failed() {
    let collector = Collector::with_policy(|_| Reply::Status(400, vec![]));
    let emitter = Emitter::new(&config_for(&collector)).unwrap();
    for i in 0..3 {
        emitter
            .emit(AnalyticsEvent::Play { position: i as f64 })
            .unwrap();
    }
    emitter.flush(WAIT).unwrap();
    let s = emitter.stats();
    assert_eq!((s.emitted, s.delivered, s.failed, s.queued), (3, 0, 3, 0));
}

#[test]
fn no_destination_counts_events_as_failed_but_qoe_sees_them() {
    let emitter = Emitter::new(&Config::default()).unwrap();
    emitter
        .emit(AnalyticsEvent::Load {
            url: "u".into(),
            is_live: false,
        })
        .unwrap();
    emitter
        .emit(AnalyticsEvent::Play { position: 0.0 })
        .unwrap();
    emitter.flush(WAIT).unwrap();
    let s = emitter.stats();
    assert_eq!((s.emitted, s.failed, s.queued), (2, 2, 0));
    assert!(emitter.qoe().expect("an open view").started);
}

#[test]
fn refused_input_takes_no_sequence_number() {
    let collector = Collector::start();
    let emitter = Emitter::new(&config_for(&collector)).unwrap();
    emitter
        .emit(AnalyticsEvent::Play { position: 0.0 })
        .unwrap();
    assert!(emitter
        .emit(AnalyticsEvent::Play { position: -1.0 })
        .is_err());
    assert_eq!(
        emitter
            .emit(AnalyticsEvent::Play { position: 1.0 })
            .unwrap(),
        2
    );
    emitter.flush(WAIT).unwrap();
    let seqs: Vec<u64> = collector
        .accepted_records()
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2]);
}

struct FailingSink;
impl BatchSink for FailingSink {
    fn deliver(&self, _body: &Body, _deadline: Instant) -> Outcome {
        Outcome::Failed(Failure {
            retryable: false,
            status: None,
            retry_after: None,
            kind: kino::stats::DeliveryError::Callback,
            reason: "no".into(),
        })
    }
}

#[test]
fn stats_invariant_holds_with_a_refusing_sink() {
    let mut config = Config::default();
    config.set_batch_sink(Some(Arc::new(FailingSink)));
    let emitter = Emitter::new(&config).unwrap();
    for i in 0..10 {
        emitter
            .emit(AnalyticsEvent::Play { position: i as f64 })
            .unwrap();
        let s = emitter.stats();
        assert_eq!(s.emitted, s.delivered + s.failed + s.queued);
    }
    emitter.flush(WAIT).unwrap();
    assert_eq!(emitter.stats().failed, 10);
}

/// Takes every batch, but refuses every third attempt as transient, so
/// batches are retried while other threads keep emitting.
struct FlakySink {
    attempts: std::sync::atomic::AtomicU64,
    got: Mutex<HashSet<u64>>,
}

impl BatchSink for FlakySink {
    fn deliver(&self, body: &Body, _deadline: Instant) -> Outcome {
        let n = self
            .attempts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n % 3 == 2 {
            return Outcome::Failed(Failure {
                retryable: true,
                status: Some(503),
                retry_after: Some(Duration::from_millis(1)),
                kind: kino::stats::DeliveryError::HttpStatus,
                reason: "flaky".into(),
            });
        }
        let v: Vec<serde_json::Value> = serde_json::from_slice(body.json()).unwrap();
        let mut got = self.got.lock().unwrap();
        for r in v {
            got.insert(r["sequence"].as_u64().unwrap());
        }
        Outcome::Delivered
    }
}

#[test]
fn flush_never_returns_before_earlier_events_are_delivered() {
    // Views opening and closing on four threads (qoe records take reserved
    // numbers), a small queue and a flaky sink: after every successful
    // flush, every event that thread emitted before it has arrived.
    let sink = Arc::new(FlakySink {
        attempts: Default::default(),
        got: Mutex::new(HashSet::new()),
    });
    let mut config = Config::default();
    config.set_batch_sink(Some(sink.clone()));
    config.set_queue_capacity(8).unwrap();
    config.set_batch_size(2).unwrap();
    config.set_retry_backoff_ms(1, 2).unwrap();
    let emitter = Arc::new(Emitter::new(&config).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let emitter = Arc::clone(&emitter);
            let sink = Arc::clone(&sink);
            std::thread::spawn(move || {
                for round in 0..40 {
                    let mut mine = Vec::new();
                    let events = [
                        AnalyticsEvent::Load {
                            url: format!("https://cdn/{t}/{round}"),
                            is_live: false,
                        },
                        AnalyticsEvent::Play { position: 0.0 },
                        AnalyticsEvent::Heartbeat {
                            position: 1.0,
                            buffer_level: 1.0,
                            bitrate: 1,
                            dropped_frames: 0,
                            decoded_frames: 1,
                        },
                        AnalyticsEvent::End {
                            position: 2.0,
                            watch_time: 2.0,
                        },
                    ];
                    for e in events {
                        if let Ok(seq) = emitter.emit(e) {
                            mine.push(seq);
                        }
                    }
                    if emitter.flush(Duration::from_secs(20)).is_ok() {
                        let got = sink.got.lock().unwrap();
                        for seq in &mine {
                            assert!(got.contains(seq), "flush returned before seq {seq} arrived");
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    emitter.flush(Duration::from_secs(20)).unwrap();
    let s = emitter.stats();
    assert_eq!(s.emitted, s.delivered + s.failed + s.queued);
    assert_eq!(s.queued, 0);
}
