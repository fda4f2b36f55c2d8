//! What kino costs a phone when it is not busy, measured through the C ABI
//! (issue 10): idle wake-ups of kino's threads for 1, 10 and 50 emitters,
//! wake-ups per minute of a paced playback, threads per emitter, events
//! accepted against `queue_capacity` with the collector down, and resident
//! memory per queued event.
//!
//! ```text
//! cargo bench --bench efficiency                 # about a minute
//! KINO_BENCH_IDLE_S=30 KINO_BENCH_PLAY_S=120 cargo bench --bench efficiency
//! ```
//!
//! Wake-ups are voluntary context switches of the threads named
//! `kino-worker` (`/proc/self/task/*/status`): each is the thread going to
//! sleep and being woken again. Stripped library sizes come from
//! `scripts/check-size.sh`.

#[path = "../tests/support/collector.rs"]
mod collector;

use std::ffi::CString;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use collector::Collector;
use kino::ffi::config::*;
use kino::ffi::emit::kino_emit_heartbeat;
use kino::ffi::emitter::*;
use kino::ffi::KinoStatus;

fn env_secs(name: &str, default: u64) -> Duration {
    Duration::from_secs(
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default),
    )
}

/// (threads named kino-worker, their voluntary context switches in all).
fn kino_threads() -> (usize, u64) {
    let mut threads = 0;
    let mut switches = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != "kino-worker" {
            continue;
        }
        threads += 1;
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        switches += status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    (threads, switches)
}

fn all_threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

struct Emitter(*mut KinoEmitter);

impl Emitter {
    fn new(url: Option<&str>, capacity: Option<u32>) -> Emitter {
        let cfg = kino_config_new();
        if let Some(url) = url {
            let url = CString::new(url).unwrap();
            assert_eq!(
                kino_config_set_beacon_url(cfg, url.as_ptr()),
                KinoStatus::Ok
            );
        }
        if let Some(c) = capacity {
            assert_eq!(kino_config_set_queue_capacity(cfg, c), KinoStatus::Ok);
        }
        assert_eq!(
            kino_config_set_shutdown_timeout_ms(cfg, 200),
            KinoStatus::Ok
        );
        let mut h = std::ptr::null_mut();
        assert_eq!(kino_emitter_new(cfg, &mut h), KinoStatus::Ok);
        kino_config_free(cfg);
        Emitter(h)
    }

    fn heartbeat(&self, i: u64) -> KinoStatus {
        kino_emit_heartbeat(self.0, i as f64, 10.0, 2_500_000, 0, i)
    }

    fn stats(&self) -> KinoStats {
        let mut s = KinoStats::default();
        kino_emitter_stats(self.0, &mut s);
        s
    }
}

impl Drop for Emitter {
    fn drop(&mut self) {
        kino_emitter_free(self.0);
    }
}

/// Idle emitters (made, nothing emitted): wake-ups per second of kino's
/// threads over `window`, and threads added per emitter.
fn idle(n: usize, url: &str, window: Duration) {
    let threads_before = all_threads();
    let emitters: Vec<Emitter> = (0..n).map(|_| Emitter::new(Some(url), None)).collect();
    std::thread::sleep(Duration::from_millis(200)); // let them start and settle
    let (threads, before) = kino_threads();
    std::thread::sleep(window);
    let (_, after) = kino_threads();
    let added = all_threads() - threads_before;
    let per_s = (after - before) as f64 / window.as_secs_f64();
    println!(
        "idle      {n:>3} emitters: {threads:>3} kino threads ({added} added), {:>8.3} wake-ups/s in all over {} s",
        per_s,
        window.as_secs()
    );
    drop(emitters);
}

/// One emitter, default configuration, a heartbeat a second to a live
/// collector: wake-ups per minute.
fn paced(url: &str, length: Duration) {
    let e = Emitter::new(Some(url), None);
    let (_, before) = kino_threads();
    let start = Instant::now();
    let mut i = 0;
    while start.elapsed() < length {
        assert_eq!(e.heartbeat(i), KinoStatus::Ok);
        i += 1;
        std::thread::sleep(Duration::from_secs(1));
    }
    let (_, after) = kino_threads();
    let per_min = (after - before) as f64 * 60.0 / start.elapsed().as_secs_f64();
    let s = e.stats();
    println!(
        "paced     1 heartbeat/s for {} s: {:>6.1} wake-ups/min, {} batches",
        length.as_secs(),
        per_min,
        s.batches
    );
}

/// The collector down: how many events of many more calls are accepted,
/// and the resident memory they take.
fn outage(capacity: u32) {
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{addr}/beacon");
    let rss_before = rss_bytes();
    let e = Emitter::new(Some(&url), Some(capacity));
    let rss_empty = rss_bytes();
    let calls = u64::from(capacity) * 3;
    let accepted = (0..calls)
        .filter(|&i| e.heartbeat(i) == KinoStatus::Ok)
        .count() as u64;
    let rss_full = rss_bytes();
    let s = e.stats();
    println!(
        "outage    capacity {capacity}: {accepted} of {calls} calls accepted (emitted {}, queued {}, dropped {})",
        s.emitted, s.queued, s.dropped
    );
    println!(
        "memory    {} B per queue slot reserved at creation, {} B per queued event once filled (RSS)",
        (rss_empty - rss_before) / u64::from(capacity),
        rss_full.saturating_sub(rss_before) / accepted.max(1)
    );
}

fn main() {
    let idle_window = env_secs("KINO_BENCH_IDLE_S", 10);
    let play = env_secs("KINO_BENCH_PLAY_S", 30);
    let collector = Collector::start();
    let url = collector.url();
    println!("efficiency: kino {}", env!("CARGO_PKG_VERSION"));
    for n in [1, 10, 50] {
        idle(n, &url, idle_window);
    }
    paced(&url, play);
    outage(100_000);
}
