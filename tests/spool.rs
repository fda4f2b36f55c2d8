//! The offline spool end to end (issue 3): events survive an unreachable
//! collector, a SIGKILLed process and a restart; the disk bound evicts the
//! oldest; two processes draining one spool never deliver a batch twice.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::Duration;

use kino::event::AnalyticsEvent;
use kino::{Config, Emitter, ErrorKind};
use support::cbuild;
use support::collector::{Collector, Reply};
use support::emitting::{heartbeat, temp_dir, wait_for_stats};

const WAIT: Duration = Duration::from_secs(20);

/// A fresh, empty directory for one test.
/// An address nothing listens on (yet).
fn closed_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn spool_config(url: &str, dir: &std::path::Path) -> Config {
    let mut c = Config::default();
    c.set_beacon_url(Some(url)).unwrap();
    c.set_spool_dir(Some(dir.to_str().unwrap())).unwrap();
    c.set_retry_backoff_ms(20, 200).unwrap();
    c.set_request_timeout_ms(1000).unwrap();
    c.set_batch_size(10).unwrap();
    c.set_shutdown_timeout_ms(300).unwrap();
    c
}

/// Waits until nothing of this emitter's own is queued or on disk.
fn wait_until_sent(emitter: &Emitter) -> kino::stats::StatsSnapshot {
    wait_for_stats(emitter, WAIT, |s| s.queued == 0)
}

/// (session, sequence) → how many accepted copies.
fn accepted_counts(collector: &Collector) -> HashMap<(String, u64), usize> {
    let mut counts = HashMap::new();
    for r in collector.accepted_records() {
        let key = (
            r["session_id"].as_str().unwrap().to_string(),
            r["sequence"].as_u64().unwrap(),
        );
        *counts.entry(key).or_default() += 1;
    }
    counts
}

#[test]
fn an_outage_goes_to_disk_and_the_next_emitter_resends_it() {
    let dir = temp_dir("outage");
    let addr = closed_addr();
    let url = format!("http://{addr}/beacon");
    let first = Emitter::new(&spool_config(&url, &dir)).unwrap();
    let session = first.session_id().to_string();
    for i in 0..35 {
        first.emit(heartbeat(i)).unwrap();
    }
    // On disk counts as dealt with: flush returns although nothing is sent.
    first.flush(WAIT).unwrap();
    let s = first.stats();
    assert_eq!((s.emitted, s.delivered, s.failed), (35, 0, 0));
    assert_eq!(s.queued, 35, "events on disk are still queued");
    assert_eq!(s.spooled, 35);
    drop(first);

    let collector = Collector::on(addr, |_| Reply::Status(200, vec![]));
    let second = Emitter::new(&spool_config(&url, &dir)).unwrap();
    assert!(collector.wait_for_records(35, WAIT), "the spool was resent");
    let s = wait_for_stats(&second, WAIT, |s| s.resent >= 35);
    let counts = accepted_counts(&collector);
    for seq in 1..=35 {
        assert_eq!(counts.get(&(session.clone(), seq)), Some(&1), "seq {seq}");
    }
    assert_eq!(s.resent, 35);
    assert_eq!((s.emitted, s.delivered), (0, 0), "not this emitter's own");
    drop(second);
    let left = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(left, 0, "delivered batches are removed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unwritable_spool_directory_fails_emitter_creation() {
    let file = std::env::temp_dir().join(format!("kino-spool-file-{}", std::process::id()));
    std::fs::write(&file, b"not a directory").unwrap();
    let dir = file.join("spool");
    let err = match Emitter::new(&spool_config("http://127.0.0.1:9/", &dir)) {
        Err(e) => e,
        Ok(_) => panic!("a spool under a regular file cannot work"),
    };
    assert_eq!(err.kind, ErrorKind::Io);
    assert!(
        err.message.contains(dir.to_str().unwrap()),
        "{}",
        err.message
    );
    let _ = std::fs::remove_file(&file);
}

#[test]
fn sigkill_loses_nothing_that_was_flushed_to_disk() {
    let child = cbuild::compile("spool_child", &["tests/c/spool_child.c"], &[]);
    let dir = temp_dir("sigkill");
    let addr = closed_addr();
    let url = format!("http://{addr}/beacon");
    let mut proc = Command::new(&child)
        .args(["emit", &url, dir.to_str().unwrap(), "57", "5"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(proc.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "flushed");
    assert_eq!(lines.next().unwrap().unwrap(), "waiting");
    proc.kill().unwrap(); // SIGKILL: no destructor, no shutdown flush
    proc.wait().unwrap();

    // Next launch, collector up: the first 57 events arrive, exactly once.
    let collector = Collector::on(addr, |_| Reply::Status(200, vec![]));
    let next = Emitter::new(&spool_config(&url, &dir)).unwrap();
    assert!(collector.wait_for_records(57, WAIT));
    next.flush(WAIT).unwrap();
    let records = collector.accepted_records();
    let mut seqs: Vec<u64> = records
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    seqs.sort_unstable();
    let flushed: Vec<u64> = seqs.iter().copied().filter(|&s| s <= 57).collect();
    assert_eq!(flushed, (1..=57).collect::<Vec<_>>());
    assert!(seqs.windows(2).all(|w| w[0] != w[1]), "no duplicates");
    assert!(wait_for_stats(&next, WAIT, |s| s.resent >= 57).resent >= 57);
    drop(next);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_processes_draining_one_spool_deliver_each_batch_once() {
    let child = cbuild::compile("spool_child", &["tests/c/spool_child.c"], &[]);
    let dir = temp_dir("two");
    let addr = closed_addr();
    let url = format!("http://{addr}/beacon");
    // Fill the spool while the collector is down: 40 batches of 10.
    let filler = Emitter::new(&spool_config(&url, &dir)).unwrap();
    let session = filler.session_id().to_string();
    for i in 0..400 {
        filler.emit(heartbeat(i)).unwrap();
    }
    filler.flush(WAIT).unwrap();
    assert_eq!(filler.stats().spooled, 400);
    drop(filler);

    let collector = Collector::on(addr, |_| Reply::Status(200, vec![]));
    let spawn = || {
        Command::new(&child)
            .args(["drain", &url, dir.to_str().unwrap()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let out_a = a.wait_with_output().unwrap();
    let out_b = b.wait_with_output().unwrap();
    assert!(out_a.status.success() && out_b.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out_a.stdout),
        String::from_utf8_lossy(&out_b.stdout)
    );
    let resent: u64 = text
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(
        resent, 400,
        "between them the two processes resent everything: {text}"
    );
    let counts = accepted_counts(&collector);
    for seq in 1..=400 {
        assert_eq!(counts.get(&(session.clone(), seq)), Some(&1), "seq {seq}");
    }
    assert_eq!(counts.len(), 400);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_small_spool_evicts_the_oldest_batches() {
    let dir = temp_dir("evict");
    let addr = closed_addr();
    let url = format!("http://{addr}/beacon");
    let mut config = spool_config(&url, &dir);
    config.set_spool_max_bytes(64 * 1024).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    let n = 2000u64; // ~400 KB of records: far more than the spool holds
    for i in 0..n {
        emitter.emit(heartbeat(i)).unwrap();
        if i % 100 == 99 {
            emitter.flush(WAIT).unwrap(); // to disk, in order
        }
    }
    emitter.flush(WAIT).unwrap();
    let s = emitter.stats();
    assert!(s.evicted > 0, "the bound was hit");
    assert_eq!(s.emitted, s.delivered + s.failed + s.queued);
    assert_eq!(s.failed, s.evicted, "own evicted events count as failed");
    let evicted = s.evicted;
    let collector = Collector::on(addr, |_| Reply::Status(200, vec![]));
    // Events on disk count as dealt with, so flush does not wait for them:
    // wait for the collector, then for the emitter to hear its answers.
    assert!(collector.wait_for_records((n - evicted) as usize, WAIT));
    let s = wait_until_sent(&emitter);
    assert_eq!(s.evicted, evicted);
    assert_eq!(s.delivered + s.evicted, n);
    let mut seqs: Vec<u64> = collector
        .accepted_records()
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs.len() as u64, s.delivered);
    // What survived is the newest data, plus at most the batch that was
    // being retried when the bound was hit (a claimed file is never
    // evicted): the missing sequence numbers form one contiguous run.
    let missing: Vec<u64> = (1..=n).filter(|x| seqs.binary_search(x).is_err()).collect();
    assert_eq!(missing.len() as u64, s.evicted);
    assert!(
        missing.windows(2).all(|w| w[1] == w[0] + 1),
        "evicted a contiguous oldest run, got gaps"
    );
    assert!(*missing.last().unwrap() < n - 100, "the newest survived");
    drop(emitter);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn free_spools_what_it_could_not_deliver() {
    let dir = temp_dir("free");
    let hanging = Collector::with_policy(|_| Reply::Hang);
    let url = hanging.url();
    let mut config = spool_config(&url, &dir);
    config.set_flush_interval_ms(600_000).unwrap();
    config.set_batch_size(1000).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    for i in 0..25 {
        emitter.emit(heartbeat(i)).unwrap();
    }
    // No flush: the events sit in the queue when the emitter is freed, and
    // the collector never answers. (How long free takes is measured by
    // `cargo bench --bench free_bound`, not here.)
    drop(emitter);
    drop(hanging);

    let collector = Collector::start();
    let next = Emitter::new(&spool_config(&collector.url(), &dir)).unwrap();
    assert!(
        collector.wait_for_records(25, WAIT),
        "free left them on disk"
    );
    let s = wait_for_stats(&next, WAIT, |s| s.resent >= 25);
    assert_eq!(s.resent, 25);
    drop(next);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn free_rescues_the_queue_when_the_worker_is_stuck_in_a_request() {
    let dir = temp_dir("rescue");
    let hanging = Collector::with_policy(|_| Reply::Hang);
    let mut config = spool_config(&hanging.url(), &dir);
    config.set_request_timeout_ms(30_000).unwrap(); // stuck for the whole shutdown
    config.set_flush_interval_ms(600_000).unwrap();
    config.set_batch_size(1000).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    for i in 0..5 {
        emitter.emit(heartbeat(i)).unwrap();
    }
    emitter
        .emit(AnalyticsEvent::End {
            position: 5.0,
            watch_time: 5.0,
        })
        .unwrap();
    // The end makes the worker send (to disk first, then the hanging POST).
    assert!(hanging.wait_until(WAIT, |b| !b.is_empty()));
    for i in 0..20 {
        emitter.emit(heartbeat(100 + i)).unwrap();
    }
    drop(emitter); // the worker never comes back within the timeout
                   // The worker is still stuck: what is on disk now is what free put
                   // there (a process exiting right after free keeps exactly this).
    let on_disk = kino::spool::Spool::open(&dir, 10 << 20, Duration::from_secs(3600))
        .unwrap()
        .spooled_events();
    assert_eq!(on_disk, 26, "the sent batch and the 20 queued events");
    drop(hanging);

    let collector = Collector::start();
    let next = Emitter::new(&spool_config(&collector.url(), &dir)).unwrap();
    assert!(collector.wait_for_records(26, WAIT), "all 26 reached disk");
    let s = wait_for_stats(&next, WAIT, |s| s.resent >= 26);
    assert_eq!(s.resent, 26);
    let counts = accepted_counts(&collector);
    assert!(counts.values().all(|&n| n == 1), "no duplicates");
    drop(next);
    let _ = std::fs::remove_dir_all(&dir);
}

/// With a spool, the collector refusing and its batch waiting a minute for
/// its retry, the next event still reaches the disk at its flush interval:
/// a process killed meanwhile loses nothing but the events not yet batched.
#[test]
fn with_a_spool_new_events_reach_the_disk_while_a_batch_waits_for_its_retry() {
    let collector = Collector::with_policy(|_| Reply::Status(503, vec![]));
    let dir = temp_dir("retry-wait");
    let mut config = Config::default();
    config.set_beacon_url(Some(&collector.url())).unwrap();
    config.set_spool_dir(Some(dir.to_str().unwrap())).unwrap();
    config.set_flush_interval_ms(50).unwrap();
    config.set_retry_backoff_ms(60_000, 60_000).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    emitter.emit(heartbeat(0)).unwrap();
    emitter.flush(Duration::from_secs(10)).unwrap();
    assert!(collector.wait_until(Duration::from_secs(10), |b| !b.is_empty()));
    // Refused: held for its retry a minute from now. The next event:
    emitter.emit(heartbeat(1)).unwrap();
    let s = wait_for_stats(&emitter, Duration::from_secs(20), |s| s.spooled == 2);
    assert_eq!(
        (s.spooled, s.queued),
        (2, 2),
        "on disk within its flush interval, not at the retry: {s:?}"
    );
    assert_eq!(collector.beacons().len(), 1, "no retry before its time");
    drop(emitter);
    let _ = std::fs::remove_dir_all(&dir);
}
