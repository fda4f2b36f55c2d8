//! A long outage without a spool (issue 3): at a steady event rate for
//! 20 s with the collector unreachable, memory stays bounded, drops are
//! exactly what the bound implies, and everything accepted is delivered
//! once the collector is back. Its own test binary, so RSS is this test's.

mod support;

use std::collections::HashSet;
use std::net::TcpListener;
use std::time::{Duration, Instant};

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

#[test]
fn twenty_seconds_down_at_5000_events_per_second() {
    const CAPACITY: u32 = 1000;
    const BATCH: u32 = 50;
    const RATE: u64 = 5000;
    const SECONDS: u64 = 20;
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
    let mut rss_after_2s = 0;
    let start = Instant::now();
    let total = RATE * SECONDS;
    for i in 0..total {
        // Pace the calls like a player would, at RATE per second.
        let due = start + Duration::from_micros(i * 1_000_000 / RATE);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        match emitter.emit(AnalyticsEvent::Heartbeat {
            position: i as f64,
            buffer_level: 0.0,
            bitrate: 1_000_000,
            dropped_frames: 0,
            decoded_frames: i,
        }) {
            Ok(seq) => accepted.push(seq),
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::QueueFull);
                dropped += 1;
            }
        }
        if i == RATE * 2 {
            rss_after_2s = rss();
        }
    }
    let rss_at_end = rss();
    let s = emitter.stats();
    // The bound: the queue, the worker's inbox (same capacity) and the one
    // batch being retried.
    let bound = 2 * u64::from(CAPACITY) + u64::from(BATCH);
    assert_eq!(s.emitted, bound, "accepted exactly what the bound holds");
    assert_eq!(s.dropped, total - bound);
    assert_eq!(dropped, s.dropped);
    assert!(s.retries > 5, "kino kept retrying ({} retries)", s.retries);
    let growth = rss_at_end.saturating_sub(rss_after_2s);
    eprintln!(
        "outage: {total} events, {} accepted, {} dropped, RSS {} KiB -> {} KiB",
        s.emitted,
        s.dropped,
        rss_after_2s / 1024,
        rss_at_end / 1024
    );
    // 98 000 dropped records would take well over 10 MB if they were kept.
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
    assert_eq!((s.delivered, s.failed, s.queued), (bound, 0, 0));
}
