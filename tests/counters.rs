//! Counters that are counted, not derived (issue 8 §2): the invariant
//! `emitted == delivered + failed + queued` checked on raw counters under
//! load, flush never returning while an accepted event is still queued,
//! and sequence gaps that add up to `dropped` exactly.

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use kino::event::AnalyticsEvent;
use kino::stats::StatsSnapshot;
use kino::transport::{BatchSink, Body, Outcome};
use kino::{Config, Emitter, ErrorKind};
use support::emitting::heartbeat;

const WAIT: Duration = Duration::from_secs(30);

/// A sink that records every delivered record's sequence number; while
/// `held`, it parks the worker inside `deliver` (a collector that hangs).
#[derive(Default)]
struct RecordingSink {
    /// Every delivered sequence number, and how many records came in all.
    seen: Mutex<(HashSet<u64>, u64)>,
    held: Mutex<bool>,
    /// Notified on release, and when the worker enters `deliver`.
    released: Condvar,
    entered: AtomicBool,
}

impl RecordingSink {
    fn delivered(&self) -> HashSet<u64> {
        self.seen.lock().unwrap().0.clone()
    }

    fn has(&self, sequence: u64) -> bool {
        self.seen.lock().unwrap().0.contains(&sequence)
    }

    fn records(&self) -> u64 {
        self.seen.lock().unwrap().1
    }

    fn hold(&self) {
        *self.held.lock().unwrap() = true;
    }

    /// Waits (bounded) until the worker is inside `deliver`.
    fn wait_entered(&self) {
        let held = self.held.lock().unwrap();
        let (_held, waited) = self
            .released
            .wait_timeout_while(held, WAIT, |_| !self.entered.load(SeqCst))
            .unwrap();
        assert!(!waited.timed_out(), "the worker never reached the sink");
    }

    fn release(&self) {
        *self.held.lock().unwrap() = false;
        self.released.notify_all();
    }
}

impl BatchSink for RecordingSink {
    fn deliver(&self, body: &Body, _deadline: Instant) -> Outcome {
        let mut held = self.held.lock().unwrap();
        self.entered.store(true, SeqCst); // under `held`: see wait_entered
        self.released.notify_all();
        while *held {
            held = self.released.wait(held).unwrap();
        }
        drop(held);
        let records: Vec<serde_json::Value> = serde_json::from_slice(body.json()).unwrap();
        let mut seen = self.seen.lock().unwrap();
        seen.1 += records.len() as u64;
        seen.0
            .extend(records.iter().map(|r| r["sequence"].as_u64().unwrap()));
        Outcome::Delivered
    }
}

fn emitter_with(sink: &Arc<RecordingSink>, capacity: u32, batch: u32) -> Emitter {
    let mut config = Config::default();
    config.set_queue_capacity(capacity).unwrap();
    config.set_batch_size(batch).unwrap();
    config.set_flush_interval_ms(50).unwrap();
    config.set_batch_sink(Some(sink.clone() as Arc<dyn BatchSink>));
    Emitter::new(&config).unwrap()
}

/// What may be said of a snapshot taken while events move: nothing is
/// settled that was not accepted, and counters never go back.
fn check_in_flight(s: &StatsSnapshot, before: &StatsSnapshot) {
    assert!(
        s.delivered + s.failed <= s.emitted,
        "settled more than accepted: {s:?}"
    );
    assert!(
        s.emitted >= before.emitted,
        "emitted went back: {before:?} -> {s:?}"
    );
    assert!(s.delivered >= before.delivered, "delivered went back");
    assert!(s.dropped >= before.dropped, "dropped went back");
}

#[test]
fn four_threads_of_25000_events_with_flushes_and_readers_keep_the_invariant() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 25_000;
    let sink = Arc::new(RecordingSink::default());
    let emitter = Arc::new(emitter_with(&sink, 4096, 100));
    let done = Arc::new(AtomicBool::new(false));

    // Two threads that flush and read the counters all along.
    let watchers: Vec<_> = (0..2)
        .map(|_| {
            let (emitter, done) = (Arc::clone(&emitter), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut before = emitter.stats();
                let mut flushes = 0u64;
                while !done.load(SeqCst) {
                    let s = emitter.stats();
                    check_in_flight(&s, &before);
                    before = s;
                    if emitter.flush(WAIT).is_ok() {
                        flushes += 1;
                    }
                }
                flushes
            })
        })
        .collect();

    let emitters: Vec<_> = (0..THREADS)
        .map(|t| {
            let (emitter, sink) = (Arc::clone(&emitter), Arc::clone(&sink));
            std::thread::spawn(move || {
                let (mut accepted, mut dropped) = (0u64, 0u64);
                for i in 0..PER_THREAD {
                    match emitter.emit(heartbeat(t * PER_THREAD + i)) {
                        Ok(seq) => {
                            accepted += 1;
                            // After a flush returns OK, this thread's
                            // accepted event has been delivered. Flushing
                            // often keeps the worker delivering tiny
                            // batches at once, which is where a flush
                            // that trusted derived counters went wrong.
                            if i % 8 == 0 {
                                emitter.flush(WAIT).expect("flush");
                                assert!(
                                    sink.has(seq),
                                    "flush returned OK while event {seq} was still queued"
                                );
                            }
                        }
                        Err(e) if e.kind == ErrorKind::QueueFull => dropped += 1,
                        Err(e) => panic!("emit: {e}"),
                    }
                }
                (accepted, dropped)
            })
        })
        .collect();
    let (mut accepted, mut dropped) = (0u64, 0u64);
    for t in emitters {
        let (a, d) = t.join().unwrap();
        accepted += a;
        dropped += d;
    }
    emitter.flush(WAIT).unwrap();
    done.store(true, SeqCst);
    let flushes: u64 = watchers.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(flushes > 0);

    let s = emitter.stats();
    assert_eq!(
        s.emitted, accepted,
        "emitted counts the calls that returned OK"
    );
    assert_eq!(
        s.dropped, dropped,
        "dropped counts the calls that returned QUEUE_FULL"
    );
    assert_eq!(s.queued, 0);
    assert_eq!(s.failed, 0);
    assert_eq!(
        s.emitted,
        s.delivered + s.failed + s.queued,
        "the invariant on raw counters: {s:?}"
    );
    let delivered = sink.delivered();
    assert_eq!(
        delivered.len() as u64,
        s.delivered,
        "each record delivered once"
    );
    assert_eq!(sink.records(), s.delivered);
    // Every number was used once: by an accepted event or by a drop.
    let gaps = (1..=THREADS * PER_THREAD)
        .filter(|n| !delivered.contains(n))
        .count() as u64;
    assert_eq!(gaps, s.dropped, "sequence gaps are the dropped calls");
}

/// Emits `event`, returning whether it was accepted.
fn accepted(emitter: &Emitter, event: AnalyticsEvent) -> bool {
    match emitter.emit(event) {
        Ok(_) => true,
        Err(e) if e.kind == ErrorKind::QueueFull => false,
        Err(e) => panic!("emit: {e}"),
    }
}

#[test]
fn gaps_equal_drops_when_calls_that_close_views_are_dropped() {
    let sink = Arc::new(RecordingSink::default());
    let emitter = emitter_with(&sink, 6, 1000);
    // Park the worker in the sink, so the queue fills and drops begin.
    sink.hold();
    emitter
        .emit(AnalyticsEvent::End {
            position: 0.0,
            watch_time: 0.0,
        })
        .unwrap();
    sink.wait_entered();
    let mut accepted_calls = 1u64;
    for round in 0..10u64 {
        let load = AnalyticsEvent::Load {
            url: format!("https://cdn.example/{round}.m3u8"),
            is_live: false,
        };
        for event in [
            load,
            AnalyticsEvent::Play { position: 0.0 },
            AnalyticsEvent::End {
                position: 1.0,
                watch_time: 1.0,
            },
        ] {
            accepted_calls += u64::from(accepted(&emitter, event));
        }
    }
    let held = emitter.stats();
    assert!(held.dropped > 0, "the queue filled: {held:?}");
    sink.release();
    emitter.flush(WAIT).unwrap();
    drop(emitter); // closes a view a dropped `end` left open
    let seen = sink.delivered();
    let max = *seen.iter().max().unwrap();
    let gaps = (1..=max).filter(|n| !seen.contains(n)).count() as u64;
    assert_eq!(
        gaps, held.dropped,
        "every gap is a dropped call, and a dropped call is one gap"
    );
    assert!(
        seen.len() as u64 >= accepted_calls,
        "plus the views' qoe records"
    );
}

/// Refuses every batch (retry much later). On its first call (the worker
/// holding the oldest batch, from the memory backlog) it lets the spool
/// directory be written again and emits ten more events into `emitter`,
/// from the worker's thread: events emitted after a flush call began.
struct RefuseOnceThenEmit {
    dir: std::path::PathBuf,
    emitter: Mutex<Option<std::sync::Weak<Emitter>>>,
    calls: std::sync::atomic::AtomicU64,
}

impl BatchSink for RefuseOnceThenEmit {
    fn deliver(&self, _body: &Body, _deadline: Instant) -> Outcome {
        if self.calls.fetch_add(1, SeqCst) == 0 {
            std::fs::create_dir_all(&self.dir).unwrap();
            let emitter = self.emitter.lock().unwrap().clone();
            if let Some(emitter) = emitter.and_then(|e| e.upgrade()) {
                for i in 100..109 {
                    emitter.emit(heartbeat(i)).unwrap();
                }
                // Urgent: the worker takes them at once.
                let end = AnalyticsEvent::End {
                    position: 9.0,
                    watch_time: 9.0,
                };
                emitter.emit(end).unwrap();
            }
        }
        Outcome::Failed(kino::transport::Failure {
            retryable: true,
            status: Some(503),
            retry_after: Some(Duration::from_secs(60)),
            kind: kino::stats::DeliveryError::HttpStatus,
            reason: "refused (test)".into(),
        })
    }
}

/// The spool refused a batch (its directory was gone), so it is sent from
/// memory and the worker holds it for a retry; then the disk works again.
/// Events emitted after a flush began must not stand in for that batch:
/// the flush may not return OK while the batch is still only in memory.
#[test]
fn flush_does_not_return_while_a_batch_from_the_memory_backlog_is_in_hand() {
    let dir = std::env::temp_dir().join(format!("kino-counters-backlog-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sink = Arc::new(RefuseOnceThenEmit {
        dir: dir.clone(),
        emitter: Mutex::new(None),
        calls: Default::default(),
    });
    let mut config = Config::default();
    config.set_batch_size(50).unwrap();
    config.set_spool_dir(Some(dir.to_str().unwrap())).unwrap();
    config.set_batch_sink(Some(sink.clone() as Arc<dyn BatchSink>));
    let emitter = Arc::new(Emitter::new(&config).unwrap());
    *sink.emitter.lock().unwrap() = Some(Arc::downgrade(&emitter));
    // The spool is open once its pending-events request is served.
    emitter.pending_events().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    for i in 0..10 {
        emitter.emit(heartbeat(i)).unwrap();
    }
    let flushed = emitter.flush(Duration::from_secs(2));
    let s = emitter.stats();
    assert!(
        s.spool_errors >= 1,
        "the first batch was refused by the disk: {s:?}"
    );
    assert_eq!(sink.calls.load(SeqCst), 1, "{s:?}");
    match flushed {
        Err(e) => assert_eq!(e.kind, ErrorKind::Timeout, "{e:?}"),
        Ok(()) => panic!(
            "flush returned OK with the ten events before it only in memory \
             (queued {}, of which on disk {}): {s:?}",
            s.queued, s.spooled
        ),
    }
    drop(emitter);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A full queue is work: with the worker asleep until its flush interval
/// and the queue's length checked every 16th call only, the calls that
/// could have seen a batch's worth waiting may all be refused (the inbox
/// already holds the rest of the capacity). A refused call then wakes the
/// worker when the queue holds events it has not taken yet.
#[test]
fn a_full_queue_wakes_the_worker_even_when_no_length_check_saw_a_batch() {
    let sink = Arc::new(RecordingSink::default());
    let mut config = Config::default();
    config.set_queue_capacity(100).unwrap();
    config.set_batch_size(50).unwrap();
    config.set_flush_interval_ms(600_000).unwrap();
    config.set_batch_sink(Some(sink.clone() as Arc<dyn BatchSink>));
    let emitter = Emitter::new(&config).unwrap();
    // The first event wakes the worker (an idle → busy transition); once it
    // has served this request it drains nothing more before its next wake.
    assert_eq!(emitter.emit(heartbeat(1)).unwrap(), 1);
    emitter.pending_events().unwrap();
    for i in 2..=49 {
        assert_eq!(emitter.emit(heartbeat(i)).unwrap(), i);
    }
    // Taken into the inbox from this thread (the worker is not woken).
    let _ = emitter.qoe();
    // Numbers 50..=100 fill the queue; the length checks at 64, 80 and 96
    // see 15, 31 and 47 waiting; 101 on are refused.
    let mut dropped = 0;
    for i in 50..=200 {
        if emitter.emit(heartbeat(i)).is_err() {
            dropped += 1;
        }
    }
    assert!(dropped > 0, "the queue filled up");
    let deadline = Instant::now() + WAIT;
    while sink.records() < 100 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(
        sink.records(),
        100,
        "the full batches were sent long before the flush interval: {:?}",
        emitter.stats()
    );
}
