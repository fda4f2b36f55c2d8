//! Latency and throughput of `kino_emit_play` and `kino_emit_heartbeat`,
//! called through the C ABI (the `extern "C"` functions, through function
//! pointers so nothing is inlined across the boundary).
//!
//! ```text
//! cargo bench --bench emit_latency                      # default run, < 60 s
//! cargo bench --bench emit_latency -- --help            # options
//! KINO_BENCH_PACED_CALLS=100000 cargo bench --bench emit_latency
//! ```
//!
//! What it does, for each event, one thread or two threads calling at once,
//! and each destination (no destination, a fast local HTTP collector, a
//! closed port, a collector that never answers, and a session sampled out
//! by `kino_config_set_sample_rate`, whose calls are validated, counted
//! in `suppressed` and only seen by the QoE tracker; one emitter each):
//!
//! - **tight**: back-to-back calls, each timed with `Instant::now()`;
//! - **paced**: one call per interval (200 µs by default; the thread sleeps
//!   in between, as a player's playback thread does), each timed; the
//!   destinations' emitters are called in turn within one run, so they are
//!   compared under the same machine conditions (which drift between runs);
//! - **throughput**: untimed back-to-back calls: *peak* (a queue that holds
//!   them all: the accepting path) and *sustained* (the default 1000-event
//!   queue for a fixed time: what the worker keeps up with).
//!
//! A control row times the design kino avoids: a paced `send` to a
//! consumer parked in `recv()`, which has to wake it (a futex call) every
//! time. `--mode components` (not in the default run) times the pieces of
//! `Emitter::emit` alone, paced, to show what dominates a paced call.
//!
//! The timer's own cost (a back-to-back `Instant::now()` pair) is measured
//! and subtracted from every sample. Only calls that returned
//! `KINO_STATUS_OK` go into the percentiles; `KINO_STATUS_QUEUE_FULL` is
//! counted as a drop. Per measuring thread it also counts heap allocations
//! and frees (a counting `#[global_allocator]` with a thread-local counter;
//! the bench fails if a measured numeric call allocates) and, where the
//! kernel allows `perf_event_open` on the `raw_syscalls:sys_enter`
//! tracepoint, system calls made by that thread during the measured calls
//! (the pacing sleep itself filtered out).
//!
//! The targets (p50 <= 150 ns, p99 <= 1 us, no syscall, no allocation,
//! the same latency whatever the collector does) are reported, not
//! asserted: timings depend on the machine.

mod alloc;
#[path = "../../tests/support/collector.rs"]
mod collector;
mod options;
mod syscalls;

use std::ffi::CString;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use collector::{Collector, Reply};
use kino::ffi::config::{
    kino_config_free, kino_config_new, kino_config_set_beacon_url, kino_config_set_queue_capacity,
    kino_config_set_shutdown_timeout_ms,
};
use kino::ffi::context::{kino_config_set_sample_rate, kino_emitter_sampled};
use kino::ffi::emit::{kino_emit_heartbeat, kino_emit_play};
use kino::ffi::emitter::{
    kino_emitter_flush, kino_emitter_free, kino_emitter_new, kino_emitter_stats, KinoEmitter,
    KinoStats,
};
use kino::ffi::KinoStatus;

use alloc::heap_ops;
use options::*;
use syscalls::syscall_counter;
// ---------------------------------------------------------------------------
// The calls under test, through function pointers the optimiser cannot see
// through, as a C caller would make them.

type PlayFn = extern "C" fn(*mut KinoEmitter, f64) -> KinoStatus;
type HeartbeatFn = extern "C" fn(*mut KinoEmitter, f64, f64, u64, u64, u64) -> KinoStatus;

#[derive(Clone, Copy)]
struct Api {
    play: PlayFn,
    heartbeat: HeartbeatFn,
}

impl Api {
    fn new() -> Api {
        Api {
            play: black_box(kino_emit_play as PlayFn),
            heartbeat: black_box(kino_emit_heartbeat as HeartbeatFn),
        }
    }

    #[inline(always)]
    fn call(&self, emitter: *mut KinoEmitter, event: Event, i: u64) -> KinoStatus {
        let position = i as f64 * 0.25;
        match event {
            Event::Play => (self.play)(emitter, position),
            Event::Heartbeat => (self.heartbeat)(emitter, position, 12.5, 4_500_000, i & 7, i),
        }
    }
}

/// An emitter handle that may be shared with the measuring threads (kino
/// emitters are thread-safe by contract).
#[derive(Clone, Copy)]
struct Handle(*mut KinoEmitter);
// SAFETY: KinoEmitter is documented thread-safe for every kino_emit_* call.
unsafe impl Send for Handle {}
// SAFETY: as above.
unsafe impl Sync for Handle {}

// ---------------------------------------------------------------------------
// Emitter set-up

/// Calls per thread made before measuring: thread-local set-up, caches,
/// and (with a collector) a first batch on the wire.
const WARM_UP_CALLS: u64 = 2_000;

fn check(status: KinoStatus, what: &str) {
    assert_eq!(status, KinoStatus::Ok, "emit_latency: {what} failed");
}

struct Target {
    emitter: *mut KinoEmitter,
    collector: Option<Collector>,
    /// The collector is down (refused connections): the worker is retrying.
    down: bool,
    /// The session is sampled out: nothing may reach the collector.
    sampled_out: bool,
}

impl Target {
    /// `capacity` None keeps the default queue (1000 events).
    fn open(dest: Dest, capacity: Option<u32>) -> Target {
        let collector = match dest {
            Dest::None | Dest::Down => None,
            Dest::Fast | Dest::SampledOut => Some(Collector::start()),
            Dest::Hang => Some(Collector::with_policy(|_| Reply::Hang)),
        };
        let url = match dest {
            Dest::Down => {
                // A port that was free a moment ago: connections are refused.
                let addr = std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .expect("a free port");
                Some(CString::new(format!("http://{addr}/beacon")).expect("url"))
            }
            _ => collector
                .as_ref()
                .map(|c| CString::new(c.url()).expect("url")),
        };
        let config = kino_config_new();
        assert!(!config.is_null());
        check(
            kino_config_set_beacon_url(
                config,
                url.as_ref().map_or(std::ptr::null(), |u| u.as_ptr()),
            ),
            "kino_config_set_beacon_url",
        );
        if let Some(capacity) = capacity {
            check(
                kino_config_set_queue_capacity(config, capacity),
                "kino_config_set_queue_capacity",
            );
        }
        // Keeps teardown short when the collector hangs.
        check(
            kino_config_set_shutdown_timeout_ms(config, 50),
            "kino_config_set_shutdown_timeout_ms",
        );
        if dest == Dest::SampledOut {
            // No version-4 session id is below the smallest rate.
            check(
                kino_config_set_sample_rate(config, f64::MIN_POSITIVE),
                "kino_config_set_sample_rate",
            );
        }
        let mut emitter = std::ptr::null_mut();
        check(kino_emitter_new(config, &mut emitter), "kino_emitter_new");
        kino_config_free(config);
        let mut sampled = true;
        check(
            kino_emitter_sampled(emitter, &mut sampled),
            "kino_emitter_sampled",
        );
        assert_eq!(sampled, dest != Dest::SampledOut, "emit_latency: sampling");
        Target {
            emitter,
            collector,
            down: dest == Dest::Down,
            sampled_out: dest == Dest::SampledOut,
        }
    }

    /// After warm-up: with a collector, waits until the worker has a
    /// request on the wire (answered, or hanging); without one, until the
    /// warm-up events are gone from the queue.
    fn settle(&self) {
        if self.sampled_out {
            check(
                kino_emitter_flush(self.emitter, 5_000),
                "kino_emitter_flush",
            );
            return;
        }
        if self.down {
            // Until the worker has been refused and is backing off.
            for _ in 0..250 {
                let mut stats = KinoStats::default();
                check(
                    kino_emitter_stats(self.emitter, &mut stats),
                    "kino_emitter_stats",
                );
                if stats.retries > 0 {
                    return;
                }
                let _ = kino_emitter_flush(self.emitter, 20);
            }
            panic!("emit_latency: the worker never retried against a closed port");
        }
        match &self.collector {
            Some(c) => {
                let ok = c.wait_until(Duration::from_secs(5), |b| !b.is_empty());
                assert!(ok, "emit_latency: no beacon reached the collector");
            }
            None => check(
                kino_emitter_flush(self.emitter, 5_000),
                "kino_emitter_flush",
            ),
        }
    }

    /// Stops the collector first: a worker stuck in a request to a hanging
    /// collector then returns at once, and the free does not wait out its
    /// shutdown margin. (Measurements are over by now.)
    fn close(self) {
        if self.sampled_out {
            let mut stats = KinoStats::default();
            check(
                kino_emitter_stats(self.emitter, &mut stats),
                "kino_emitter_stats",
            );
            assert_eq!(
                stats.emitted, 0,
                "emit_latency: a sampled-out session emitted"
            );
            assert!(stats.suppressed > 0);
            let sent = self.collector.as_ref().map_or(0, |c| c.beacons().len());
            assert_eq!(sent, 0, "emit_latency: a sampled-out session sent beacons");
        }
        drop(self.collector);
        kino_emitter_free(self.emitter);
    }
}

/// A queue big enough that a run never fills it, even when the collector
/// hangs and nothing is drained, nor reaches the half-full mark at which
/// the worker is woken (a system call, by design).
fn capacity_for(total_calls: usize) -> u32 {
    (total_calls.saturating_mul(2).saturating_add(65_536) as u64).min(1_048_576) as u32
}

// ---------------------------------------------------------------------------
// Measurement

/// What one measuring thread saw. With several emitters (one per
/// destination) they are called in turn; per-emitter figures are indexed
/// like the emitters.
struct ThreadRun {
    samples: Vec<Vec<u32>>,
    drops: Vec<u64>,
    errors: Vec<u64>,
    timer_samples: Vec<u32>,
    allocs: u64,
    frees: u64,
    syscalls: Option<u64>,
}

/// The timer's own cost: back-to-back `Instant::now()` pairs.
struct TimerCost {
    median_ns: u64,
    min_ns: u64,
    p99_ns: u64,
    /// Smallest step seen between distinct readings (the clock's
    /// effective resolution), ignoring 1-2 ns rounding.
    step_ns: u64,
}

fn timer_overhead() -> TimerCost {
    let mut v: Vec<u64> = (0..200_000)
        .map(|_| {
            let a = Instant::now();
            let b = Instant::now();
            (b - a).as_nanos() as u64
        })
        .collect();
    v.sort_unstable();
    let mut distinct = v.clone();
    distinct.dedup();
    let step_ns = distinct
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|&d| d > 2)
        .min()
        .unwrap_or(1);
    TimerCost {
        median_ns: v[v.len() / 2],
        min_ns: v[0],
        p99_ns: v[v.len() * 99 / 100],
        step_ns,
    }
}

fn pace_until(deadline: Instant, spin: bool) {
    if spin {
        while Instant::now() < deadline {
            std::hint::spin_loop();
        }
    } else {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
    }
}

fn nanos(d: Duration) -> u32 {
    d.as_nanos().min(u128::from(u32::MAX)) as u32
}

/// CPU time (clock ticks) used by the whole machine and by this process,
/// to tell how much else was running during a measurement: on a 2-core
/// machine a compile next door changes paced figures a lot.
#[derive(Clone, Copy)]
struct CpuSnapshot {
    busy: u64,
    total: u64,
    own: u64,
}

fn cpu_snapshot() -> Option<CpuSnapshot> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    // cpu user nice system idle iowait irq softirq steal ...
    let v: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let busy = v[0] + v[1] + v[2] + v[5] + v[6] + *v.get(7)?;
    let own_stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = own_stat.rsplit(')').next()?.split_whitespace().collect();
    let own = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(CpuSnapshot {
        busy,
        total: busy + v[3] + v[4],
        own,
    })
}

/// Share of the machine's CPU time used by other processes between two
/// snapshots, in percent.
fn other_load(a: Option<CpuSnapshot>, b: Option<CpuSnapshot>) -> Option<f64> {
    let (a, b) = (a?, b?);
    let total = b.total.checked_sub(a.total).filter(|&t| t > 0)?;
    let other = (b.busy - a.busy).saturating_sub(b.own - a.own);
    Some(100.0 * other as f64 / total as f64)
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |p| format!("{p:.0}"))
}

/// Measures `calls` calls per emitter in `handles`, calling them in turn
/// (one call per wake-up when paced).
#[allow(clippy::too_many_arguments)]
fn measure_thread(
    api: Api,
    handles: &[Handle],
    event: Event,
    mode: Mode,
    calls: usize,
    opts: &Opts,
    ready: &Barrier,
    go: &Barrier,
) -> ThreadRun {
    let n = handles.len();
    let counter = syscall_counter();
    // Allocated and faulted in now, not during the measured calls.
    let mut samples: Vec<Vec<u32>> = (0..n)
        .map(|_| {
            let mut v = vec![0u32; calls];
            v.clear();
            v
        })
        .collect();
    let mut timer_samples = vec![0u32; if mode == Mode::Paced { calls * n } else { 0 }];
    timer_samples.clear();
    let mut drops = vec![0u64; n];
    let mut errors = vec![0u64; n];
    for h in handles {
        for i in 0..WARM_UP_CALLS {
            check(api.call(h.0, event, i), "warm-up call");
        }
    }
    ready.wait();
    go.wait();

    let (alloc0, free0) = heap_ops();
    let sys0 = counter.as_ref().map(|c| c.now());
    let start = Instant::now();
    for i in 0..(calls * n) as u64 {
        let k = i as usize % n;
        if mode == Mode::Paced {
            pace_until(start + opts.interval * (i as u32 + 1), opts.spin);
            // An empty timed pair right after waking: the timer's cost in
            // this state, and it leaves the timer code warm.
            let a = Instant::now();
            let b = Instant::now();
            timer_samples.push(nanos(b - a));
        }
        let t0 = Instant::now();
        let status = api.call(handles[k].0, event, i);
        let t1 = Instant::now();
        match status {
            KinoStatus::Ok => samples[k].push(nanos(t1 - t0)),
            KinoStatus::QueueFull => drops[k] += 1,
            _ => errors[k] += 1,
        }
    }
    let syscalls = counter.as_ref().zip(sys0).map(|(c, s)| c.since(s));
    let (alloc1, free1) = heap_ops();
    ThreadRun {
        samples,
        drops,
        errors,
        timer_samples,
        allocs: alloc1 - alloc0,
        frees: free1 - free0,
        syscalls,
    }
}

/// Runs `per_thread` on `threads` threads against the emitters of
/// `targets`; between warm-up and the measured part the main thread waits
/// for every target to settle. Also returns the CPU share other processes
/// used during the measured part.
fn run_threads<R: Send>(
    targets: &[Target],
    threads: usize,
    per_thread: impl Fn(&[Handle], &Barrier, &Barrier) -> R + Sync,
) -> (Vec<R>, Option<f64>) {
    let handles: Vec<Handle> = targets.iter().map(|t| Handle(t.emitter)).collect();
    let ready = Barrier::new(threads + 1);
    let go = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| s.spawn(|| per_thread(&handles, &ready, &go)))
            .collect();
        ready.wait();
        for target in targets {
            target.settle();
        }
        go.wait();
        let before = cpu_snapshot();
        let results = workers
            .into_iter()
            .map(|w| w.join().expect("measuring thread panicked"))
            .collect();
        (results, other_load(before, cpu_snapshot()))
    })
}

/// A latency row of the report.
struct LatencyRow {
    mode: Mode,
    dest: Dest,
    event: Event,
    threads: usize,
    accepted: usize,
    drops: u64,
    errors: u64,
    timer_ns: u64,
    p50: u64,
    p99: u64,
    p999: u64,
    max: u64,
    allocs: u64,
    frees: u64,
    syscalls: Option<u64>,
    /// CPU used by other processes during the run, % of the machine.
    other: Option<f64>,
    /// A later row of an interleaved run: its allocation and syscall counts
    /// are the run's, already reported on the run's first row.
    shared: bool,
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn median_u32(v: &[u32]) -> u64 {
    let mut v: Vec<u32> = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).map_or(0, |&x| u64::from(x))
}

/// One latency measurement with the destinations of `dests` interleaved
/// (one emitter each, called in turn). One row per destination.
fn latency_runs(
    api: Api,
    opts: &Opts,
    mode: Mode,
    dests: &[Dest],
    event: Event,
    threads: usize,
    tight_timer_ns: u64,
) -> Vec<LatencyRow> {
    let calls = match mode {
        Mode::Tight => opts.tight_calls,
        Mode::Paced => opts.paced_calls,
    };
    let total = threads * (calls + WARM_UP_CALLS as usize);
    let targets: Vec<Target> = dests
        .iter()
        .map(|&d| Target::open(d, Some(capacity_for(total))))
        .collect();
    let (runs, other) = run_threads(&targets, threads, |handles, ready, go| {
        measure_thread(api, handles, event, mode, calls, opts, ready, go)
    });
    for target in targets {
        target.close();
    }

    let timer_ns = match mode {
        Mode::Tight => tight_timer_ns,
        Mode::Paced => {
            let all: Vec<u32> = runs
                .iter()
                .flat_map(|r| r.timer_samples.iter().copied())
                .collect();
            median_u32(&all)
        }
    };
    let syscalls = runs
        .iter()
        .map(|r| r.syscalls)
        .try_fold(0u64, |acc, s| s.map(|s| acc + s));
    dests
        .iter()
        .enumerate()
        .map(|(k, &dest)| {
            let mut all: Vec<u64> = runs
                .iter()
                .flat_map(|r| {
                    r.samples[k]
                        .iter()
                        .map(|&s| u64::from(s).saturating_sub(timer_ns))
                })
                .collect();
            all.sort_unstable();
            LatencyRow {
                mode,
                dest,
                event,
                threads,
                accepted: all.len(),
                drops: runs.iter().map(|r| r.drops[k]).sum(),
                errors: runs.iter().map(|r| r.errors[k]).sum(),
                timer_ns,
                p50: percentile(&all, 0.50),
                p99: percentile(&all, 0.99),
                p999: percentile(&all, 0.999),
                max: all.last().copied().unwrap_or(0),
                allocs: runs.iter().map(|r| r.allocs).sum(),
                frees: runs.iter().map(|r| r.frees).sum(),
                syscalls,
                other,
                shared: k > 0,
            }
        })
        .collect()
}

/// How a throughput run loads the emitter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Load {
    /// `tight_calls` untimed calls per thread into a queue big enough to
    /// hold them all: the rate of the accepting path.
    Peak,
    /// Untimed calls for `throughput` with the default queue (1000
    /// events): once the queue is full, what is accepted is what the
    /// worker takes off it, so accepted/s is the end-to-end sustained rate.
    Sustained,
}

impl Load {
    fn name(self) -> &'static str {
        match self {
            Load::Peak => "peak",
            Load::Sustained => "sustained",
        }
    }
}

/// A throughput row of the report.
struct ThroughputRow {
    load: Load,
    dest: Dest,
    event: Event,
    threads: usize,
    secs: f64,
    calls: u64,
    accepted: u64,
    drops: u64,
    allocs: u64,
    syscalls: Option<u64>,
    other: Option<f64>,
}

fn throughput_run(
    api: Api,
    opts: &Opts,
    load: Load,
    dest: Dest,
    event: Event,
    threads: usize,
) -> ThroughputRow {
    let (capacity, warm_up) = match load {
        Load::Peak => (
            Some(capacity_for(
                threads * (opts.tight_calls + WARM_UP_CALLS as usize),
            )),
            WARM_UP_CALLS,
        ),
        // The default queue holds 1000: stay well below it.
        Load::Sustained => (None, 200),
    };
    let target = Target::open(dest, capacity);
    let (runs, other) = run_threads(
        std::slice::from_ref(&target),
        threads,
        |handles, ready, go| {
            let handle = handles[0];
            let counter = syscall_counter();
            for i in 0..warm_up {
                check(api.call(handle.0, event, i), "warm-up call");
            }
            ready.wait();
            go.wait();
            let (alloc0, _) = heap_ops();
            let sys0 = counter.as_ref().map(|c| c.now());
            let start = Instant::now();
            let deadline = start + opts.throughput;
            let (mut ok, mut full, mut i) = (0u64, 0u64, 0u64);
            loop {
                for _ in 0..1024 {
                    match api.call(handle.0, event, i) {
                        KinoStatus::Ok => ok += 1,
                        KinoStatus::QueueFull => full += 1,
                        status => panic!("emit_latency: unexpected status {status:?}"),
                    }
                    i += 1;
                }
                let done = match load {
                    Load::Peak => i >= opts.tight_calls as u64,
                    Load::Sustained => Instant::now() >= deadline,
                };
                if done {
                    break;
                }
            }
            let elapsed = start.elapsed();
            let syscalls = counter.as_ref().zip(sys0).map(|(c, s)| c.since(s));
            let (alloc1, _) = heap_ops();
            (ok, full, elapsed, alloc1 - alloc0, syscalls)
        },
    );
    target.close();
    let secs = runs
        .iter()
        .map(|r| r.2)
        .max()
        .unwrap_or_default()
        .as_secs_f64();
    ThroughputRow {
        load,
        dest,
        event,
        threads,
        secs,
        calls: runs.iter().map(|r| r.0 + r.1).sum(),
        accepted: runs.iter().map(|r| r.0).sum(),
        drops: runs.iter().map(|r| r.1).sum(),
        allocs: runs.iter().map(|r| r.3).sum(),
        syscalls: runs
            .iter()
            .map(|r| r.4)
            .try_fold(0u64, |a, s| s.map(|s| a + s)),
        other,
    }
}

/// The design kino avoids, measured the same way: a `send` on a crossbeam
/// channel whose consumer is parked in `recv()`, one call per pacing
/// interval, so every send has to wake the consumer (a futex system call).
struct ControlRow {
    calls: usize,
    timer_ns: u64,
    p50: u64,
    p99: u64,
    p999: u64,
    max: u64,
    allocs: u64,
    syscalls: Option<u64>,
    other: Option<f64>,
}

fn control_parked_consumer(opts: &Opts) -> ControlRow {
    let calls = opts.paced_calls;
    // A message the size of kino's queued record (96 bytes).
    let (tx, rx) = crossbeam_channel::bounded::<[u64; 12]>(1024);
    let consumer = std::thread::spawn(move || {
        let mut sum = 0u64;
        while let Ok(message) = rx.recv() {
            sum = sum.wrapping_add(black_box(message)[0]);
        }
        sum
    });
    let counter = syscall_counter();
    let mut samples: Vec<u32> = Vec::with_capacity(calls);
    let mut timer_samples: Vec<u32> = Vec::with_capacity(calls);
    for i in 0..WARM_UP_CALLS {
        tx.send([i; 12]).expect("consumer alive");
    }
    std::thread::sleep(Duration::from_millis(10));
    let (alloc0, _) = heap_ops();
    let sys0 = counter.as_ref().map(|c| c.now());
    let cpu0 = cpu_snapshot();
    let start = Instant::now();
    for i in 0..calls as u64 {
        pace_until(start + opts.interval * (i as u32 + 1), opts.spin);
        let a = Instant::now();
        let b = Instant::now();
        timer_samples.push(nanos(b - a));
        let t0 = Instant::now();
        let sent = tx.send([i; 12]);
        let t1 = Instant::now();
        if sent.is_ok() {
            samples.push(nanos(t1 - t0));
        }
    }
    let syscalls = counter.as_ref().zip(sys0).map(|(c, s)| c.since(s));
    let (alloc1, _) = heap_ops();
    let other = other_load(cpu0, cpu_snapshot());
    drop(tx);
    let _ = consumer.join();
    let timer_ns = median_u32(&timer_samples);
    let mut all: Vec<u64> = samples
        .iter()
        .map(|&s| u64::from(s).saturating_sub(timer_ns))
        .collect();
    all.sort_unstable();
    ControlRow {
        calls: all.len(),
        timer_ns,
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        p999: percentile(&all, 0.999),
        max: all.last().copied().unwrap_or(0),
        allocs: alloc1 - alloc0,
        syscalls,
        other,
    }
}

/// The pieces of `Emitter::emit`, each timed alone with the same paced
/// method, one thread: what a call costs on a wake-up, part by part.
fn components(api: Api, opts: &Opts) {
    fn paced(opts: &Opts, name: &str, f: impl FnMut(u64)) {
        paced_after(opts, name, |_| {}, f);
    }
    /// `before` runs untimed right after each wake-up, then `f` is timed.
    fn paced_after(opts: &Opts, name: &str, mut before: impl FnMut(u64), mut f: impl FnMut(u64)) {
        let calls = opts.paced_calls;
        let mut samples: Vec<u64> = Vec::with_capacity(calls);
        let mut timer: Vec<u32> = Vec::with_capacity(calls);
        for i in 0..WARM_UP_CALLS {
            f(i);
        }
        let start = Instant::now();
        for i in 0..calls as u64 {
            pace_until(start + opts.interval * (i as u32 + 1), opts.spin);
            before(i);
            let a = Instant::now();
            let b = Instant::now();
            timer.push(nanos(b - a));
            let t0 = Instant::now();
            f(i);
            let t1 = Instant::now();
            samples.push((t1 - t0).as_nanos() as u64);
        }
        let overhead = median_u32(&timer);
        let mut v: Vec<u64> = samples.iter().map(|s| s.saturating_sub(overhead)).collect();
        v.sort_unstable();
        println!(
            "  {name:<44} p50 {:>5}  p90 {:>5}  p99 {:>5} ns",
            percentile(&v, 0.50),
            percentile(&v, 0.90),
            percentile(&v, 0.99)
        );
    }
    println!(
        "Components, paced ({} calls every {} us, {}), 1 thread, ns:",
        opts.paced_calls,
        opts.interval.as_micros(),
        if opts.spin { "spinning" } else { "sleeping" }
    );
    let noop: extern "C" fn(u64) -> u64 = black_box(noop_call);
    paced(opts, "empty extern \"C\" call", |i| {
        black_box(noop(i));
    });
    let counter = std::sync::atomic::AtomicU64::new(0);
    paced(opts, "AtomicU64::fetch_add", |_| {
        black_box(counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    });
    paced(opts, "SystemTime::now() (the clock read)", |_| {
        black_box(std::time::SystemTime::now());
    });
    paced(opts, "chrono::Utc::now() (clock + calendar)", |_| {
        black_box(chrono::Utc::now());
    });
    // A queue like kino's: 96-byte records, drained every 100 ms.
    let (tx, rx) = crossbeam_channel::bounded::<[u64; 12]>(capacity_for(opts.paced_calls) as usize);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                for message in rx.try_iter() {
                    black_box(message);
                }
            }
        });
        paced(opts, "crossbeam try_send + len (96-byte record)", |i| {
            black_box(tx.try_send([i; 12]).is_ok());
            black_box(tx.len());
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let capacity = Some(capacity_for(
        3 * opts.paced_calls + 3 * WARM_UP_CALLS as usize,
    ));
    let target = Target::open(Dest::None, capacity);
    let other = Target::open(Dest::None, capacity);
    paced(opts, "kino_emit_play (all of the above and more)", |i| {
        black_box(api.call(target.emitter, Event::Play, i));
    });
    paced_after(
        opts,
        "kino_emit_play, code warmed (other emitter)",
        |i| {
            black_box(api.call(other.emitter, Event::Play, i));
        },
        |i| {
            black_box(api.call(target.emitter, Event::Play, i));
        },
    );
    paced_after(
        opts,
        "kino_emit_play, 2nd call after the wake-up",
        |i| {
            black_box(api.call(target.emitter, Event::Play, i));
        },
        |i| {
            black_box(api.call(target.emitter, Event::Play, i));
        },
    );
    other.close();
    target.close();
    println!();
}

extern "C" fn noop_call(x: u64) -> u64 {
    x
}

// ---------------------------------------------------------------------------
// Report

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn clocksource() -> String {
    std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

fn opt_count(v: Option<u64>) -> String {
    v.map_or_else(|| "n/a".into(), |n| n.to_string())
}

fn rate(per_s: f64) -> String {
    if per_s >= 1e6 {
        format!("{:.2}M", per_s / 1e6)
    } else {
        format!("{:.1}k", per_s / 1e3)
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "MET"
    } else {
        "MISSED"
    }
}

const P50_TARGET_NS: u64 = 150;
const P99_TARGET_NS: u64 = 1_000;

/// Whether this build of kino accepts a beacon URL (the `http` feature).
fn http_supported() -> bool {
    let config = kino_config_new();
    assert!(!config.is_null());
    let url = CString::new("http://127.0.0.1:9/beacon").expect("url");
    let ok = kino_config_set_beacon_url(config, url.as_ptr()) == KinoStatus::Ok;
    kino_config_free(config);
    ok
}

fn main() {
    let mut opts = Opts::parse();
    let api = Api::new();
    let skipped_http = !http_supported() && opts.dests.iter().any(|&d| d != Dest::None);
    if skipped_http {
        opts.dests.retain(|&d| d == Dest::None);
    }
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let timer = timer_overhead();
    let timer_ns = timer.median_ns;
    let probe = syscall_counter();
    let run_start = cpu_snapshot();
    println!(
        "kino emit latency benchmark (kino {})",
        env!("CARGO_PKG_VERSION")
    );
    if opts.smoke {
        println!(
            "  smoke run (no argument, as under cargo test): tiny sample counts; `cargo bench --bench emit_latency` measures"
        );
    }
    if skipped_http {
        println!("  built without the `http` feature: the fast and hanging collectors are skipped");
    }
    println!(
        "  cpus {cpus}, {}, clocksource {}",
        cpu_model(),
        clocksource()
    );
    println!(
        "  timer: an Instant::now() pair costs {} ns median (min {}, p99 {}; readings step by ~{} ns);",
        timer.median_ns, timer.min_ns, timer.p99_ns, timer.step_ns
    );
    println!(
        "         that median is subtracted from every tight sample; paced rows subtract the median of an empty pair taken on each wake-up (column 'timer')"
    );
    println!(
        "  per thread and destination: tight {} calls; paced {} calls, a call every {} us ({} in between) to each",
        opts.tight_calls,
        opts.paced_calls,
        opts.interval.as_micros(),
        if opts.spin { "spinning" } else { "sleeping" },
    );
    println!(
        "  destination in turn (each emitter every {} us); throughput {} ms; warm-up {} calls",
        opts.interval.as_micros() * opts.dests.len() as u128,
        opts.throughput.as_millis(),
        WARM_UP_CALLS
    );
    println!(
        "  syscall counting: {}",
        if probe.is_some() {
            "perf_event_open(raw_syscalls:sys_enter) on each measuring thread, sleeps filtered out"
        } else {
            "unavailable here (no perf_event_open permission or no tracefs): 'n/a'"
        }
    );
    drop(probe);
    println!();

    let mut rows = Vec::new();
    for mode in [Mode::Tight, Mode::Paced] {
        if !opts.modes.contains(&mode.name()) {
            continue;
        }
        for &event in &opts.events {
            for &threads in &opts.threads {
                // Tight: one emitter at a time, as a player has. Paced: the
                // destinations interleaved in one run (each wake-up calls the
                // next one's emitter), so that they are compared under the
                // same machine conditions, which drift between runs.
                let groups: Vec<Vec<Dest>> = match mode {
                    Mode::Tight => opts.dests.iter().map(|&d| vec![d]).collect(),
                    Mode::Paced => vec![opts.dests.clone()],
                };
                for group in &groups {
                    for row in latency_runs(api, &opts, mode, group, event, threads, timer_ns) {
                        eprintln!(
                            "  done: {:<5} {:<4} {:<9} {}T  p50 {} ns  p99 {} ns",
                            mode.name(),
                            row.dest.name(),
                            event.name(),
                            threads,
                            row.p50,
                            row.p99
                        );
                        assert_eq!(row.errors, 0, "emit_latency: calls failed");
                        assert!(
                            row.allocs == 0 && row.frees == 0,
                            "emit_latency: {} {} {} {}T: {} allocations and {} frees on the calling thread{}",
                            mode.name(),
                            row.dest.name(),
                            event.name(),
                            threads,
                            row.allocs,
                            row.frees,
                            if row.drops > 0 { " (the run also dropped events)" } else { "" }
                        );
                        rows.push(row);
                    }
                }
            }
        }
    }

    let control = opts.modes.contains(&"paced").then(|| {
        let row = control_parked_consumer(&opts);
        eprintln!(
            "  done: control (send to a consumer parked in recv)  p50 {} ns",
            row.p50
        );
        row
    });

    if opts.modes.contains(&"components") {
        components(api, &opts);
    }

    let mut throughput = Vec::new();
    if opts.modes.contains(&"throughput") {
        for load in [Load::Peak, Load::Sustained] {
            for &event in &opts.events {
                for &threads in &opts.threads {
                    for &dest in &opts.dests {
                        let row = throughput_run(api, &opts, load, dest, event, threads);
                        eprintln!(
                            "  done: {:<9} {:<4} {:<9} {}T  {}/s",
                            load.name(),
                            dest.name(),
                            event.name(),
                            threads,
                            rate(row.calls as f64 / row.secs)
                        );
                        throughput.push(row);
                    }
                }
            }
        }
    }

    if !rows.is_empty() {
        println!("Latency per call, ns (timer overhead subtracted; accepted calls only)");
        println!(
            "  Tight: one destination at a time. Paced: the destinations interleaved in one run (each wake-up calls the next"
        );
        println!(
            "  one's emitter), so a paced row's alloc/free, syscalls and other% are the whole run's. other%: CPU used by other"
        );
        println!("  processes during the run, % of the machine.");
        println!(
            "{:<6} {:<9} {:>3} {:<5} {:>8} {:>6} {:>5} {:>6} {:>6} {:>7} {:>8} {:>10} {:>8} {:>6}",
            "mode",
            "event",
            "thr",
            "dest",
            "calls",
            "drops",
            "timer",
            "p50",
            "p99",
            "p99.9",
            "max",
            "alloc/free",
            "syscalls",
            "other%"
        );
        for r in &rows {
            println!(
                "{:<6} {:<9} {:>3} {:<5} {:>8} {:>6} {:>5} {:>6} {:>6} {:>7} {:>8} {:>10} {:>8} {:>6}",
                r.mode.name(),
                r.event.name(),
                r.threads,
                r.dest.name(),
                r.accepted,
                r.drops,
                r.timer_ns,
                r.p50,
                r.p99,
                r.p999,
                r.max,
                format!("{}/{}", r.allocs, r.frees),
                opt_count(r.syscalls),
                pct(r.other)
            );
        }
        println!();
    }

    if let Some(c) = &control {
        println!(
            "Control, not kino: crossbeam send() to a consumer parked in recv(), paced like the rows above, 1 thread"
        );
        println!(
            "{:<6} {:<9} {:>3} {:<5} {:>8} {:>6} {:>5} {:>6} {:>6} {:>7} {:>8} {:>10} {:>8} {:>6}",
            "paced",
            "send+wake",
            1,
            "-",
            c.calls,
            0,
            c.timer_ns,
            c.p50,
            c.p99,
            c.p999,
            c.max,
            format!("{}/-", c.allocs),
            opt_count(c.syscalls),
            pct(c.other)
        );
        println!(
            "  Each send wakes the parked consumer (futex): this is the per-call cost kino's worker design avoids."
        );
        println!();
    }

    if !throughput.is_empty() {
        println!("Throughput (untimed back-to-back calls)");
        println!(
            "  peak: {} calls/thread into a queue that holds them all (the accepting path);",
            opts.tight_calls
        );
        println!(
            "  sustained: {} ms with the default 1000-event queue, so accepted/s is what the worker keeps up with.",
            opts.throughput.as_millis()
        );
        println!(
            "{:<9} {:<9} {:>3} {:<5} {:>6} {:>10} {:>10} {:>10} {:>7} {:>6} {:>8} {:>6}",
            "load",
            "event",
            "thr",
            "dest",
            "secs",
            "calls/s",
            "accepted/s",
            "drops",
            "drop %",
            "allocs",
            "syscalls",
            "other%"
        );
        for r in &throughput {
            println!(
                "{:<9} {:<9} {:>3} {:<5} {:>6.3} {:>10} {:>10} {:>10} {:>6.1}% {:>6} {:>8} {:>6}",
                r.load.name(),
                r.event.name(),
                r.threads,
                r.dest.name(),
                r.secs,
                rate(r.calls as f64 / r.secs),
                rate(r.accepted as f64 / r.secs),
                r.drops,
                100.0 * r.drops as f64 / r.calls.max(1) as f64,
                r.allocs,
                opt_count(r.syscalls),
                pct(r.other)
            );
        }
        println!(
            "  Drops are KINO_STATUS_QUEUE_FULL (the producers outran the worker; a hanging collector drains nothing)."
        );
        println!(
            "  Allocations there: the first QUEUE_FULL on a thread sizes its last-error buffer (then reused)."
        );
        println!(
            "  Syscalls there: futex wake-ups of the worker once the queue is past half full (by design)."
        );
        println!();
    }

    if let Some(other) = other_load(run_start, cpu_snapshot()) {
        println!(
            "Other processes used {other:.0}% of the machine's CPU time during this run{}",
            if other > 5.0 {
                ": the figures are disturbed; rerun on an idle machine for reference numbers."
            } else {
                "."
            }
        );
        println!();
    }

    if opts.smoke {
        println!("Smoke run: targets not evaluated (tiny samples, and cargo test builds without optimisation).");
    } else if !rows.is_empty() {
        print_targets(&rows, &throughput);
    }
}

fn print_targets(rows: &[LatencyRow], throughput: &[ThroughputRow]) {
    println!("Targets (reported, not asserted)");
    let worst = |f: fn(&LatencyRow) -> u64| rows.iter().max_by_key(|r| f(r)).expect("rows");
    let label = |r: &LatencyRow| {
        format!(
            "{} {} {} {}T",
            r.mode.name(),
            r.dest.name(),
            r.event.name(),
            r.threads
        )
    };
    let p50 = worst(|r| r.p50);
    println!(
        "  p50 <= {P50_TARGET_NS} ns, tight and paced: {} (worst {} ns: {})",
        verdict(p50.p50 <= P50_TARGET_NS),
        p50.p50,
        label(p50)
    );
    for r in rows.iter().filter(|r| r.p50 > P50_TARGET_NS) {
        println!("      missed by: {} (p50 {} ns)", label(r), r.p50);
    }
    let p99 = worst(|r| r.p99);
    println!(
        "  p99 <= {P99_TARGET_NS} ns, tight and paced: {} (worst {} ns: {})",
        verdict(p99.p99 <= P99_TARGET_NS),
        p99.p99,
        label(p99)
    );
    for r in rows.iter().filter(|r| r.p99 > P99_TARGET_NS) {
        println!("      missed by: {} (p99 {} ns)", label(r), r.p99);
    }
    // Allocation and syscall targets: every timed call, plus the untimed
    // peak runs (the accepting path at full speed).
    let peak: Vec<&ThroughputRow> = throughput.iter().filter(|r| r.load == Load::Peak).collect();
    let own = || rows.iter().filter(|r| !r.shared);
    let allocs: u64 =
        own().map(|r| r.allocs + r.frees).sum::<u64>() + peak.iter().map(|r| r.allocs).sum::<u64>();
    let calls: u64 = rows
        .iter()
        .map(|r| r.accepted as u64 + r.drops)
        .sum::<u64>()
        + peak.iter().map(|r| r.calls).sum::<u64>();
    println!(
        "  no heap allocation on the calling thread: {} ({allocs} in {calls} calls: latency and peak runs)",
        verdict(allocs == 0)
    );
    let counted: Vec<u64> = own()
        .map(|r| r.syscalls)
        .chain(peak.iter().map(|r| r.syscalls))
        .collect::<Option<Vec<u64>>>()
        .unwrap_or_default();
    if !counted.is_empty() {
        let total: u64 = counted.iter().sum();
        println!(
            "  no system call on the calling thread: {} ({total} in {calls} calls besides the pacing sleep: latency and peak runs)",
            verdict(total == 0)
        );
        for r in peak.iter().filter(|r| r.syscalls.unwrap_or(0) > 0) {
            println!(
                "      peak {} {} {}T: {} (two threads saturating one emitter: crossbeam's send backoff yields)",
                r.event.name(),
                r.dest.name(),
                r.threads,
                r.syscalls.unwrap_or(0)
            );
        }
        for r in own().filter(|r| r.syscalls.unwrap_or(0) > 0) {
            println!(
                "      {} {} {} {}T: {}",
                r.mode.name(),
                r.event.name(),
                r.dest.name(),
                r.threads,
                r.syscalls.unwrap_or(0)
            );
        }
    } else {
        println!(
            "  no system call on the calling thread: not measured here (no perf_event_open; see docs/PERFORMANCE.md for strace)"
        );
    }
    // Same latency whatever the collector does: within each (mode, event,
    // threads) group, every destination's p50 is within 1.5x + 20 ns of
    // every other's, and its p99 within 2x + 100 ns. The slack covers the
    // ~10 ns timer step and run-to-run noise; a wake-up or a blocked call
    // (microseconds) would not fit in it.
    let mut same = true;
    let mut worst_ratio = (1.0f64, String::new());
    for a in rows {
        for b in rows {
            if (a.mode, a.event, a.threads) != (b.mode, b.event, b.threads) || a.dest == b.dest {
                continue;
            }
            if a.p50 as f64 > b.p50 as f64 * 1.5 + 20.0 || a.p99 as f64 > b.p99 as f64 * 2.0 + 100.0
            {
                same = false;
            }
            let ratio = a.p50 as f64 / b.p50.max(1) as f64;
            if ratio > worst_ratio.0 {
                worst_ratio = (
                    ratio,
                    format!(
                        "{} {} {}T: {} p50 {} ns vs {} {} ns",
                        a.mode.name(),
                        a.event.name(),
                        a.threads,
                        a.dest.name(),
                        a.p50,
                        b.dest.name(),
                        b.p50
                    ),
                );
            }
        }
    }
    let dests: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.dest.name()).collect();
    if dests.len() > 1 {
        println!(
            "  same latency with a fast, hanging or no collector (p50 within 1.5x + 20 ns, p99 within 2x + 100 ns): {} (largest p50 ratio {:.2}{}{})",
            verdict(same),
            worst_ratio.0,
            if worst_ratio.1.is_empty() { "" } else { ", " },
            worst_ratio.1
        );
    }
}
