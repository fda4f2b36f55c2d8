//! The app lifecycle of docs/INTEGRATION.md (issue 10): going to the
//! background is `kino_emitter_flush` with a spool, which must get every
//! accepted event to disk within the few seconds a mobile OS gives — even
//! while kino's worker is stuck in a request to a collector that hangs —
//! so that an app killed in the background loses nothing, and the next
//! launch sends it all.

mod support;

use std::time::Duration;

use kino::{Config, Emitter};
use support::collector::{Collector, Reply};
use support::emitting::{heartbeat, temp_dir};

fn config(url: &str, dir: &std::path::Path) -> Config {
    let mut c = Config::default();
    c.set_beacon_url(Some(url)).unwrap();
    c.set_spool_dir(Some(dir.to_str().unwrap())).unwrap();
    c.set_batch_size(10).unwrap();
    c.set_request_timeout_ms(60_000).unwrap(); // the hang outlasts the background time
    c.set_shutdown_timeout_ms(200).unwrap();
    c
}

#[test]
fn going_to_the_background_makes_everything_durable_while_the_collector_hangs() {
    let dir = temp_dir("background");
    let hanging = Collector::with_policy(|_| Reply::Hang);
    let emitter = Emitter::new(&config(&hanging.url(), &dir)).unwrap();
    for i in 0..10 {
        emitter.emit(heartbeat(i)).unwrap();
    }
    // The first batch is on its way: the worker is stuck in that POST.
    assert!(hanging.wait_until(Duration::from_secs(10), |b| !b.is_empty()));
    for i in 10..35 {
        emitter.emit(heartbeat(i)).unwrap();
    }
    // The app goes to the background: a few seconds to get it all safe.
    emitter
        .flush(Duration::from_secs(3))
        .expect("flush with a spool does not wait for the collector");
    let s = emitter.stats();
    assert_eq!((s.emitted, s.queued, s.spooled), (35, 35, 35), "{s:?}");
    assert_eq!((s.delivered, s.failed), (0, 0));

    // The OS kills the app in the background; the next launch, with the
    // collector back, sends everything exactly once.
    let session = emitter.session_id().to_string();
    drop(emitter);
    drop(hanging);
    let collector = Collector::start();
    let next = Emitter::new(&config(&collector.url(), &dir)).unwrap();
    assert!(collector.wait_for_records(35, Duration::from_secs(20)));
    let mut seqs: Vec<u64> = collector
        .accepted_records()
        .iter()
        .filter(|r| r["session_id"] == session.as_str())
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs, (1..=35).collect::<Vec<u64>>());
    drop(next);
    let _ = std::fs::remove_dir_all(&dir);
}
