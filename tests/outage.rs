//! A long outage without a spool (issues 3 and 10): with the collector
//! unreachable, memory holds at most `queue_capacity` events however many
//! calls are made, drops are exactly what that bound implies, and every
//! accepted event is delivered once the collector is back. No timing: the
//! number of calls stands for the length of the outage. Its own test
//! binary, so RSS is this test's.

mod support;

use std::collections::HashSet;
use std::net::TcpListener;
use std::time::Duration;

use kino::event::AnalyticsEvent;
use kino::{Config, Emitter, ErrorKind};
use support::collector::{Collector, Reply};

/// Resident set size of this process, bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

fn heartbeat(i: u64) -> AnalyticsEvent {
    AnalyticsEvent::Heartbeat {
        position: i as f64,
        buffer_level: 0.0,
        bitrate: 1_000_000,
        dropped_frames: 0,
        decoded_frames: i,
    }
}

#[test]
fn a_long_outage_holds_exactly_the_capacity_and_loses_nothing_accepted() {
    const CAPACITY: u32 = 1000;
    const BATCH: u32 = 50;
    const CALLS: u64 = 200_000;
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = Config::default();
    config
        .set_beacon_url(Some(&format!("http://{addr}/beacon")))
        .unwrap();
    config.set_queue_capacity(CAPACITY).unwrap();
    config.set_batch_size(BATCH).unwrap();
    config.set_retry_backoff_ms(50, 500).unwrap();
    let emitter = Emitter::new(&config).unwrap();

    let mut accepted = Vec::new();
    let mut dropped = 0u64;
    let mut rss_early = 0;
    for i in 0..CALLS {
        match emitter.emit(heartbeat(i)) {
            Ok(seq) => accepted.push(seq),
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::QueueFull);
                dropped += 1;
            }
        }
        if i == CALLS / 10 {
            rss_early = rss();
        }
    }
    let rss_at_end = rss();
    let s = emitter.stats();
    // Nothing can be delivered and retries never give up, so nothing
    // leaves memory: it holds the capacity, queue, inbox and the batch
    // being retried together.
    assert_eq!(
        s.emitted,
        u64::from(CAPACITY),
        "accepted exactly the capacity"
    );
    assert_eq!(s.queued, u64::from(CAPACITY));
    assert_eq!(s.dropped, CALLS - u64::from(CAPACITY));
    assert_eq!(dropped, s.dropped);
    let growth = rss_at_end.saturating_sub(rss_early);
    eprintln!(
        "outage: {CALLS} calls, {} accepted, {} dropped, RSS {} KiB -> {} KiB",
        s.emitted,
        s.dropped,
        rss_early / 1024,
        rss_at_end / 1024
    );
    // 180 000 dropped records would take well over 10 MB if they were kept.
    assert!(growth < 2 * 1024 * 1024, "RSS grew by {growth} bytes");

    let collector = Collector::on(addr, |_| Reply::Status(200, vec![]));
    emitter.flush(Duration::from_secs(60)).unwrap();
    let got: HashSet<u64> = collector
        .accepted_records()
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    let want: HashSet<u64> = accepted.iter().copied().collect();
    assert_eq!(
        got, want,
        "every accepted event delivered once the collector is back"
    );
    assert_eq!(
        collector.accepted_records().len(),
        accepted.len(),
        "exactly once"
    );
    let s = emitter.stats();
    assert_eq!(
        (s.delivered, s.failed, s.queued),
        (u64::from(CAPACITY), 0, 0)
    );
    assert!(s.retries >= 1, "kino retried until the collector was back");
}
