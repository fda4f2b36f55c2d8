//! A panic inside kino's worker (an internal bug; here a sink that
//! panics, the test-only seam) loses nothing quietly (issue 8 §3): the
//! batch being delivered is counted as failed, the loop carries on with
//! its state, flush keeps working, and after too many panics the worker
//! gives up with everything counted.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kino::event::AnalyticsEvent;
use kino::stats::DeliveryError;
use kino::transport::{BatchSink, Body, Outcome};
use kino::worker::MAX_RESTARTS;
use kino::{Config, Emitter, ErrorKind};

const WAIT: Duration = Duration::from_secs(20);

/// Panics on its first `panics` calls, then delivers.
struct PanickingSink {
    panics: u64,
    calls: AtomicU64,
    delivered: Mutex<Vec<u64>>,
}

impl PanickingSink {
    fn new(panics: u64) -> Arc<PanickingSink> {
        Arc::new(PanickingSink {
            panics,
            calls: AtomicU64::new(0),
            delivered: Mutex::new(Vec::new()),
        })
    }
}

impl BatchSink for PanickingSink {
    fn deliver(&self, body: &Body, _deadline: Instant) -> Outcome {
        if self.calls.fetch_add(1, SeqCst) < self.panics {
            panic!("a bug in delivery (test seam)");
        }
        let records: Vec<serde_json::Value> = serde_json::from_slice(body.json()).unwrap();
        let mut delivered = self.delivered.lock().unwrap();
        delivered.extend(records.iter().map(|r| r["sequence"].as_u64().unwrap()));
        Outcome::Delivered
    }
}

fn emitter_for(sink: &Arc<PanickingSink>) -> Emitter {
    let mut config = Config::default();
    config.set_batch_size(5).unwrap();
    config.set_batch_sink(Some(sink.clone() as Arc<dyn BatchSink>));
    Emitter::new(&config).unwrap()
}

fn play(i: u64) -> AnalyticsEvent {
    AnalyticsEvent::Play { position: i as f64 }
}

#[test]
fn a_panic_while_delivering_fails_that_batch_and_the_worker_carries_on() {
    let sink = PanickingSink::new(1);
    let emitter = emitter_for(&sink);
    for i in 0..5 {
        emitter.emit(play(i)).unwrap();
    }
    emitter.flush(WAIT).expect("flush works after the panic");
    let s = emitter.stats();
    assert_eq!((s.emitted, s.delivered, s.failed, s.queued), (5, 0, 5, 0));
    assert_eq!(s.internal_errors, 1);
    assert_eq!(s.last_error, DeliveryError::Internal as u64);
    assert!(
        emitter.last_error_message().contains("a bug in delivery"),
        "{}",
        emitter.last_error_message()
    );
    for i in 5..10 {
        emitter.emit(play(i)).unwrap();
    }
    emitter.flush(WAIT).unwrap();
    let s = emitter.stats();
    assert_eq!((s.emitted, s.delivered, s.failed, s.queued), (10, 5, 5, 0));
    assert_eq!(
        *sink.delivered.lock().unwrap(),
        (6..=10).collect::<Vec<u64>>()
    );
}

#[test]
fn a_worker_that_keeps_panicking_gives_up_with_everything_counted() {
    let sink = PanickingSink::new(u64::MAX);
    let emitter = emitter_for(&sink);
    let mut accepted = 0u64;
    let mut closed = false;
    for i in 0..200 {
        match emitter.emit(play(i)) {
            Ok(_) => accepted += 1,
            Err(e) if e.kind == ErrorKind::Closed => {
                closed = true;
                break;
            }
            Err(e) => panic!("emit: {e}"),
        }
        if i % 5 == 4 {
            emitter.flush(WAIT).expect("every flush is answered");
        }
    }
    assert!(closed, "the worker gave up after {MAX_RESTARTS} restarts");
    emitter.flush(WAIT).unwrap();
    let s = emitter.stats();
    assert_eq!(s.emitted, accepted);
    assert_eq!((s.delivered, s.failed, s.queued), (0, accepted, 0));
    assert_eq!(s.internal_errors, u64::from(MAX_RESTARTS) + 1);
    assert!(matches!(
        emitter.emit(play(999)),
        Err(e) if e.kind == ErrorKind::Closed
    ));
}
