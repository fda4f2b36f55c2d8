//! Delivery throughput to a local collector on 127.0.0.1: events/s and
//! body bytes/s, with and without gzip, for a few batch sizes.
//!
//! `cargo bench --bench delivery_throughput` (set KINO_BENCH_EVENTS to
//! change the event count, default 200 000). The collector is the test
//! collector (tests/support/collector.rs): one thread per connection,
//! answering 200 to every beacon, so its own cost is part of the figure.

#[path = "../tests/support/collector.rs"]
mod collector;

use std::time::{Duration, Instant};

use kino::event::AnalyticsEvent;
use kino::{Config, Emitter};

fn run(events: u64, batch: u32, gzip: bool) -> (f64, f64, usize) {
    let collector = collector::Collector::start();
    let mut config = Config::default();
    config.set_beacon_url(Some(&collector.url())).unwrap();
    config
        .set_queue_capacity(events.min(1_048_576) as u32)
        .unwrap();
    config.set_batch_size(batch).unwrap();
    config.set_gzip(gzip);
    let emitter = Emitter::new(&config).unwrap();
    let start = Instant::now();
    for i in 0..events {
        emitter
            .emit(AnalyticsEvent::Heartbeat {
                position: i as f64,
                buffer_level: 10.0,
                bitrate: 2_500_000,
                dropped_frames: i / 100,
                decoded_frames: i,
            })
            .unwrap();
    }
    emitter.flush(Duration::from_secs(300)).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let beacons = collector.beacons();
    let wire: usize = beacons.iter().map(|b| b.body.len()).sum();
    assert_eq!(emitter.stats().delivered, events);
    (events as f64 / secs, wire as f64 / secs, beacons.len())
}

fn main() {
    // `cargo test --benches` runs this without --bench: keep that quick.
    let benching = std::env::args().any(|a| a == "--bench");
    let events: u64 = std::env::var("KINO_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benching { 200_000 } else { 2_000 });
    println!("delivery throughput to a local collector, {events} heartbeat events");
    println!(
        "{:>6} {:>5} {:>14} {:>16} {:>9}",
        "batch", "gzip", "events/s", "wire bytes/s", "beacons"
    );
    for batch in [50u32, 500] {
        for gzip in [false, true] {
            let (eps, bps, beacons) = run(events, batch, gzip);
            println!(
                "{batch:>6} {:>5} {eps:>14.0} {bps:>16.0} {beacons:>9}",
                if gzip { "yes" } else { "no" }
            );
        }
    }
}
