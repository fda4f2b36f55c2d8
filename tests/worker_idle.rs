//! The worker sleeps while it waits to retry: no state of its own makes
//! it run without work. Measured as the CPU time of its thread over a
//! window in which it has nothing it may do (its own test binary, so the
//! only `kino-worker` thread is this test's). tests/spool.rs holds what
//! does wake it then: an event, with a spool.

mod support;

use std::time::{Duration, Instant};

use kino::{Config, Emitter};
use support::collector::{Collector, Reply};
use support::emitting::{heartbeat, temp_dir};

/// CPU time (ns) used so far by each thread named `kino-worker`.
fn worker_cpu_ns() -> Vec<u64> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| {
            let path = t.ok()?.path();
            let comm = std::fs::read_to_string(path.join("comm")).ok()?;
            if comm.trim() != "kino-worker" {
                return None;
            }
            let stat = std::fs::read_to_string(path.join("stat")).ok()?;
            // utime and stime: fields 14 and 15, after the `(comm)` field.
            let rest = &stat[stat.rfind(')')? + 2..];
            let fields: Vec<u64> = rest
                .split_whitespace()
                .skip(11)
                .take(2)
                .map(|f| f.parse().unwrap_or(0))
                .collect();
            // SAFETY: sysconf has no preconditions.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
            Some(fields.iter().sum::<u64>() * 1_000_000_000 / hz)
        })
        .collect()
}

/// A spool whose directory is gone (writes fail: batches join the memory
/// backlog) while the collector answers 503 (the batch in hand waits for
/// its retry): the rest of the backlog cannot be sent before that batch,
/// so it is no reason to wake.
#[test]
fn a_memory_backlog_behind_a_batch_waiting_to_be_retried_does_not_spin_the_worker() {
    let collector = Collector::with_policy(|_| Reply::Status(503, vec![]));
    let dir = temp_dir("worker-idle");
    let mut config = Config::default();
    config.set_beacon_url(Some(&collector.url())).unwrap();
    config.set_spool_dir(Some(dir.to_str().unwrap())).unwrap();
    config.set_batch_size(10).unwrap();
    config.set_retry_backoff_ms(60_000, 60_000).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    // One batch on disk: the spool is open; the worker sends it, is
    // refused, and holds it for its retry a minute later.
    emitter.emit(heartbeat(0)).unwrap();
    emitter.flush(Duration::from_secs(10)).unwrap();
    assert_eq!(emitter.stats().spooled, 1);
    assert!(collector.wait_until(Duration::from_secs(10), |b| !b.is_empty()));
    std::fs::remove_dir_all(&dir).unwrap();
    for i in 1..=30u64 {
        emitter.emit(heartbeat(i)).unwrap();
    }
    // Written (refused) from this thread: three batches in the backlog.
    let _ = emitter.flush(Duration::from_millis(1));
    let s = emitter.stats();
    assert!(s.spool_errors >= 1, "{s:?}");

    let before = worker_cpu_ns();
    assert_eq!(before.len(), 1, "one worker in this binary");
    let window = Instant::now();
    std::thread::sleep(Duration::from_millis(500)); // a window to measure, not to wait for
    let used = worker_cpu_ns()[0] - before[0];
    assert!(
        used < 50_000_000,
        "the worker used {} ms of CPU in {} ms with nothing it may do",
        used / 1_000_000,
        window.elapsed().as_millis()
    );
    assert_eq!(collector.beacons().len(), 1, "no retry before its time");
}
