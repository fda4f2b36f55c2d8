//! Once `kino_emitter_free` has returned, kino touches nothing on the
//! host's behalf (issue 8 §3, CONTRACT §4): no callback, no spool file
//! written, deleted or claimed — not even by a worker that was stuck in a
//! request and comes back later. Its own test binary: it counts kino's
//! worker threads to know when a stuck worker has really finished.

mod support;

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_void, CString};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use kino::ffi::config::*;
use kino::ffi::emitter::*;
use kino::ffi::KinoStatus;
use kino::{Config, Emitter};
use support::collector::{Collector, Reply};
use support::emitting::{heartbeat, temp_dir};

const WAIT: Duration = Duration::from_secs(20);

/// The tests here count every kino worker of the process: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Threads of this process named `kino-worker`.
fn worker_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "kino-worker")
        .count()
}

/// Waits (bounded) until no kino worker thread is left.
fn wait_for_no_workers() {
    let deadline = Instant::now() + WAIT;
    while worker_threads() > 0 {
        assert!(Instant::now() < deadline, "a kino worker never finished");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every entry of `dir`, lock and temporary files included, with its size
/// and modification time.
fn snapshot(dir: &Path) -> BTreeMap<String, (u64, SystemTime)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            (
                e.file_name().into_string().unwrap(),
                (meta.len(), meta.modified().unwrap()),
            )
        })
        .collect()
}

fn batch_files(dir: &Path) -> usize {
    snapshot(dir)
        .keys()
        .filter(|n| n.ends_with(".kino") && !n.starts_with('.'))
        .count()
}

fn spool_config(url: &str, dir: &Path) -> Config {
    let mut c = Config::default();
    c.set_beacon_url(Some(url)).unwrap();
    c.set_spool_dir(Some(dir.to_str().unwrap())).unwrap();
    c.set_retry_backoff_ms(20, 200).unwrap();
    c.set_batch_size(10).unwrap();
    c.set_shutdown_timeout_ms(300).unwrap();
    c
}

/// A collector that holds every request until `release` is called, then
/// answers 200 (a collector that comes back late).
struct LateCollector {
    collector: Collector,
    gate: Arc<(Mutex<bool>, Condvar)>,
    arrived: crossbeam_channel::Receiver<()>,
}

impl LateCollector {
    fn start() -> LateCollector {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let held = Arc::clone(&gate);
        let (tell, arrived) = crossbeam_channel::unbounded();
        let collector = Collector::with_policy(move |_| {
            let _ = tell.send(());
            let (open, cv) = &*held;
            let mut open = open.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
            Reply::Status(200, vec![])
        });
        LateCollector {
            collector,
            gate,
            arrived,
        }
    }

    fn release(&self) {
        *self.gate.0.lock().unwrap() = true;
        self.gate.1.notify_all();
    }
}

#[test]
fn a_worker_stuck_in_a_request_touches_no_spool_file_after_free() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("stuck");
    let late = LateCollector::start();
    let mut config = spool_config(&late.collector.url(), &dir);
    config.set_request_timeout_ms(60_000).unwrap();
    config.set_flush_interval_ms(600_000).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    for i in 0..10 {
        emitter.emit(heartbeat(i)).unwrap(); // a full batch: to disk, then the held POST
    }
    late.arrived
        .recv_timeout(WAIT)
        .expect("the POST is under way");
    for i in 10..35 {
        emitter.emit(heartbeat(i)).unwrap();
    }
    drop(emitter); // gives up on the worker, rescues the queue to disk
    let at_free = snapshot(&dir);
    assert!(
        batch_files(&dir) >= 2,
        "the sent batch and the rescued ones: {at_free:?}"
    );
    // Now the collector answers 200: the worker comes back with a
    // delivered batch, and must still leave everything as free left it
    // (its file stays, to be sent again: at-least-once).
    late.release();
    wait_for_no_workers();
    assert_eq!(
        snapshot(&dir),
        at_free,
        "the worker touched the spool after free"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_worker_writing_a_large_backlog_to_the_spool_stops_when_free_returns() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("backlog-writer");
    let refusing = Collector::with_policy(|_| Reply::Status(503, vec![]));
    let mut config = spool_config(&refusing.url(), &dir);
    config.set_queue_capacity(100_000).unwrap();
    config.set_shutdown_timeout_ms(50).unwrap();
    let emitter = Emitter::new(&config).unwrap();
    // Far more than the worker can write (a file and two fsyncs per batch
    // of 10) before the shutdown deadline.
    for i in 0..100_000 {
        emitter.emit(heartbeat(i)).unwrap();
    }
    drop(emitter);
    let at_free = snapshot(&dir);
    wait_for_no_workers();
    assert_eq!(
        snapshot(&dir),
        at_free,
        "spool files written after free returned"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

static CALLS: AtomicU64 = AtomicU64::new(0);
/// Notified at every callback (counted under `CALLED_LOCK`), so the test
/// waits for the backlog to be under way instead of polling.
static CALLED_LOCK: Mutex<()> = Mutex::new(());
static CALLED: Condvar = Condvar::new();

unsafe extern "C" fn slow_ok(_: *mut c_void, _: *const c_char, _: usize) -> c_int {
    {
        let _counted = CALLED_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        CALLS.fetch_add(1, SeqCst);
        CALLED.notify_all();
    }
    std::thread::sleep(Duration::from_millis(5)); // a slow uplink
    0
}

/// Regression: after free gave up on a busy worker, a worker turn that
/// began earlier went on claiming spool files; the closed callback gate
/// failed each one for good and the file was deleted: the whole spool was
/// wiped without a single delivery.
#[test]
fn a_freed_emitter_leaves_the_spool_it_did_not_send() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("backlog");
    // 300 batches on disk, left by an earlier run.
    let refusing = Collector::with_policy(|_| Reply::Status(503, vec![]));
    let filler = Emitter::new(&spool_config(&refusing.url(), &dir)).unwrap();
    for i in 0..3000 {
        filler.emit(heartbeat(i)).unwrap();
        if i % 500 == 499 {
            filler.flush(WAIT).unwrap(); // to disk before the queue fills
        }
    }
    filler.flush(WAIT).unwrap();
    drop(filler);
    wait_for_no_workers();
    assert_eq!(batch_files(&dir), 300);

    let cfg = kino_config_new();
    let path = CString::new(dir.to_str().unwrap()).unwrap();
    assert_eq!(
        kino_config_set_spool_dir(cfg, path.as_ptr()),
        KinoStatus::Ok
    );
    assert_eq!(
        kino_config_set_batch_callback(cfg, Some(slow_ok), std::ptr::null_mut()),
        KinoStatus::Ok
    );
    assert_eq!(
        kino_config_set_shutdown_timeout_ms(cfg, 100),
        KinoStatus::Ok
    );
    let mut h = std::ptr::null_mut();
    assert_eq!(kino_emitter_new(cfg, &mut h), KinoStatus::Ok);
    kino_config_free(cfg);
    // Let it work through some of the backlog, then free it mid-way.
    let counted = CALLED_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let (counted, waited) = CALLED
        .wait_timeout_while(counted, WAIT, |_| CALLS.load(SeqCst) < 10)
        .unwrap_or_else(|e| e.into_inner());
    assert!(!waited.timed_out(), "the backlog is being sent");
    drop(counted);
    kino_emitter_free(h);
    let calls_at_free = CALLS.load(SeqCst);
    let left_at_free = batch_files(&dir);
    assert!(
        left_at_free > 0,
        "the backlog outlasts the shutdown timeout"
    );
    assert_eq!(
        worker_threads(),
        0,
        "free returned with its worker finished"
    );
    assert_eq!(CALLS.load(SeqCst), calls_at_free, "no callback after free");
    assert_eq!(
        batch_files(&dir),
        left_at_free,
        "no spool file deleted after free"
    );
    assert_eq!(
        left_at_free as u64 + calls_at_free,
        300,
        "every batch is either delivered or still on disk"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
