//! Delivery against a misbehaving collector (issue 3): every accepted
//! event reaches the collector exactly once, or is counted. Assertions are
//! by sequence number and id on what the collector accepted (answered 2xx).

mod support;

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kino::{Config, Emitter, ErrorKind};
use support::collector::{Beacon, Collector, Reply};
use support::emitting::emit_heartbeats;

const WAIT: Duration = Duration::from_secs(20);

fn config_for(url: &str) -> Config {
    let mut c = Config::default();
    c.set_beacon_url(Some(url)).unwrap();
    c.set_retry_backoff_ms(20, 200).unwrap();
    c.set_request_timeout_ms(2000).unwrap();
    c
}

/// Every sequence 1..=n exactly once among the accepted records, with
/// unique ids.
fn assert_exactly_once(collector: &Collector, n: u64) {
    let records = collector.accepted_records();
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for r in &records {
        *seen.entry(r["sequence"].as_u64().unwrap()).or_default() += 1;
    }
    for s in 1..=n {
        assert_eq!(seen.get(&s), Some(&1), "sequence {s} in {seen:?}");
    }
    assert_eq!(records.len() as u64, n);
    let ids: HashSet<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len() as u64, n, "ids unique");
}

/// A policy that answers `first` to the first `times` requests, then 200.
fn first_then_ok(times: usize, first: Reply) -> impl Fn(&Beacon) -> Reply + Send + Sync {
    let count = Arc::new(AtomicUsize::new(0));
    move |_| {
        if count.fetch_add(1, Ordering::SeqCst) < times {
            first.clone()
        } else {
            Reply::Status(200, vec![])
        }
    }
}

fn retried_once_then_delivered(reply: Reply, config_tweak: impl Fn(&mut Config)) {
    let collector = Collector::with_policy(first_then_ok(1, reply));
    let mut config = config_for(&collector.url());
    config_tweak(&mut config);
    let emitter = Emitter::new(&config).unwrap();
    emit_heartbeats(&emitter, 10);
    emitter.flush(WAIT).unwrap();
    assert_exactly_once(&collector, 10);
    let s = emitter.stats();
    assert_eq!((s.delivered, s.failed, s.queued), (10, 0, 0));
    assert!(s.retries >= 1, "retries {}", s.retries);
    assert!(collector.beacons().len() >= 2);
}

#[test]
fn http_500_then_200() {
    retried_once_then_delivered(Reply::Status(500, vec![]), |_| {});
}

#[test]
fn connection_reset_mid_request() {
    retried_once_then_delivered(Reply::Close, |_| {});
}

#[test]
fn a_reply_that_is_not_http() {
    retried_once_then_delivered(Reply::Raw(b"SSH-2.0-OpenSSH\r\n\r\n".to_vec()), |_| {});
}

#[test]
fn a_server_that_never_answers() {
    // The first request hangs until the request timeout; the server stored
    // the body, but kino never saw an answer: only the 2xx copy counts.
    retried_once_then_delivered(Reply::Hang, |c| c.set_request_timeout_ms(300).unwrap());
}

#[test]
fn a_server_answering_one_byte_per_second() {
    // The request timeout bounds the whole request, not each read.
    let slow = Reply::Trickle(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
        Duration::from_secs(1),
    );
    retried_once_then_delivered(slow, |c| c.set_request_timeout_ms(1500).unwrap());
}

#[test]
fn http_503_with_retry_after_seconds_is_honoured() {
    let reply = Reply::Status(503, vec![("Retry-After".into(), "1".into())]);
    let collector = Collector::with_policy(first_then_ok(1, reply));
    let emitter = Emitter::new(&config_for(&collector.url())).unwrap();
    emit_heartbeats(&emitter, 3);
    emitter.flush(WAIT).unwrap();
    assert_exactly_once(&collector, 3);
    let b = collector.beacons();
    let gap = b[1].at - b[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "retried after {gap:?}, before Retry-After's 1 s (back-off alone is 20-40 ms)"
    );
}

#[test]
fn http_429_with_retry_after_date_is_honoured() {
    let count = Arc::new(AtomicUsize::new(0));
    let collector = Collector::with_policy(move |_| {
        if count.fetch_add(1, Ordering::SeqCst) == 0 {
            let at = chrono::Utc::now() + chrono::Duration::seconds(2);
            let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
            Reply::Status(429, vec![("Retry-After".into(), date)])
        } else {
            Reply::Status(200, vec![])
        }
    });
    let emitter = Emitter::new(&config_for(&collector.url())).unwrap();
    emit_heartbeats(&emitter, 3);
    emitter.flush(WAIT).unwrap();
    assert_exactly_once(&collector, 3);
    let b = collector.beacons();
    let gap = b[1].at - b[0].at;
    // The date has one-second resolution: the wait is between 1 and 2 s.
    assert!(gap >= Duration::from_millis(900), "retried after {gap:?}");
}

#[test]
fn http_400_is_dropped_counted_and_not_retried() {
    let collector = Collector::with_policy(|_| Reply::Status(400, vec![]));
    let emitter = Emitter::new(&config_for(&collector.url())).unwrap();
    emit_heartbeats(&emitter, 5);
    emitter.flush(WAIT).unwrap();
    let s = emitter.stats();
    assert_eq!((s.delivered, s.failed, s.retries, s.queued), (0, 5, 0, 0));
    assert_eq!(collector.beacons().len(), 1, "no retry");
    assert_eq!(s.last_http_status, 400);
}

#[test]
fn http_413_splits_the_batch_until_it_fits() {
    const LIMIT: usize = 1500;
    let collector = Collector::with_policy(|b| {
        if b.body.len() > LIMIT {
            Reply::Status(413, vec![])
        } else {
            Reply::Status(200, vec![])
        }
    });
    let mut config = config_for(&collector.url());
    config.set_batch_size(64).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    emit_heartbeats(&emitter, 40);
    emitter.flush(WAIT).unwrap();
    assert_exactly_once(&collector, 40);
    let s = emitter.stats();
    assert_eq!((s.delivered, s.failed), (40, 0));
    assert!(
        collector.beacons().iter().any(|b| b.body.len() > LIMIT),
        "a 413 happened"
    );
}

#[test]
fn a_single_event_still_too_large_is_failed() {
    let collector = Collector::with_policy(|_| Reply::Status(413, vec![]));
    let emitter = Emitter::new(&config_for(&collector.url())).unwrap();
    emit_heartbeats(&emitter, 4);
    emitter.flush(WAIT).unwrap();
    let s = emitter.stats();
    assert_eq!((s.delivered, s.failed, s.queued), (0, 4, 0));
}

#[test]
fn bodies_never_exceed_the_byte_limit() {
    let collector = Collector::start();
    let mut config = config_for(&collector.url());
    config.set_max_body_bytes(2048).unwrap();
    config.set_batch_size(500).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    emit_heartbeats(&emitter, 200);
    emitter.flush(WAIT).unwrap();
    assert_exactly_once(&collector, 200);
    let beacons = collector.beacons();
    assert!(beacons.len() > 1);
    assert!(beacons.iter().all(|b| b.body.len() <= 2048));
}

#[test]
fn gzip_bodies_decode_to_the_records() {
    use std::io::Read;
    let collector = Collector::start();
    let mut config = config_for(&collector.url());
    config.set_gzip(true);
    let emitter = Emitter::new(&config).unwrap();
    emit_heartbeats(&emitter, 20);
    emitter.flush(WAIT).unwrap();
    let beacons = collector.beacons();
    let mut n = 0;
    for b in &beacons {
        assert_eq!(b.header("content-encoding"), Some("gzip"));
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(&b.body[..])
            .read_to_end(&mut json)
            .unwrap();
        let records: Vec<serde_json::Value> = serde_json::from_slice(&json).unwrap();
        n += records.len();
    }
    assert_eq!(n, 20);
}

#[test]
fn connection_refused_then_a_server_appears() {
    // Find a free port, and leave it closed for now.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{addr}/beacon");
    let emitter = Emitter::new(&config_for(&url)).unwrap();
    emit_heartbeats(&emitter, 7);
    // Wait (bounded, on flush timeouts) until kino has been refused and is
    // retrying.
    for _ in 0..200 {
        if emitter.stats().retries > 0 {
            break;
        }
        assert_eq!(
            emitter.flush(Duration::from_millis(25)).unwrap_err().kind,
            ErrorKind::Timeout
        );
    }
    assert!(emitter.stats().retries > 0);
    let collector = Collector::on(addr, |_| Reply::Status(200, vec![]));
    emitter.flush(WAIT).unwrap();
    assert_exactly_once(&collector, 7);
}

#[test]
fn a_retried_batch_holds_back_later_ones_in_order() {
    let collector = Collector::with_policy(first_then_ok(3, Reply::Status(503, vec![])));
    let mut config = config_for(&collector.url());
    config.set_batch_size(5).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    emit_heartbeats(&emitter, 20);
    emitter.flush(WAIT).unwrap();
    assert_exactly_once(&collector, 20);
    let seqs: Vec<u64> = collector
        .accepted_records()
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>(), "delivered in order");
    assert_eq!(emitter.stats().retries, 3);
}
