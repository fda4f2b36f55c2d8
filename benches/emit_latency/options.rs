//! The bench's command line and environment options.

use std::time::Duration;

use crate::syscalls::COUNT_SYSCALLS;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dest {
    None,
    Fast,
    /// A URL on a closed port: every request is refused and retried.
    Down,
    Hang,
    /// A fast collector, but the session is sampled out: every call is
    /// suppressed (the branch a consent withdrawal takes too).
    SampledOut,
}

impl Dest {
    pub fn name(self) -> &'static str {
        match self {
            Dest::None => "none",
            Dest::Fast => "fast",
            Dest::Down => "down",
            Dest::Hang => "hang",
            Dest::SampledOut => "sampled-out",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    Play,
    Heartbeat,
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::Play => "play",
            Event::Heartbeat => "heartbeat",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Tight,
    Paced,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Tight => "tight",
            Mode::Paced => "paced",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Opts {
    /// No argument at all (as under `cargo test`): a quick smoke run.
    pub smoke: bool,
    pub tight_calls: usize,
    pub paced_calls: usize,
    pub interval: Duration,
    pub spin: bool,
    pub throughput: Duration,
    pub dests: Vec<Dest>,
    pub events: Vec<Event>,
    pub threads: Vec<usize>,
    pub modes: Vec<&'static str>,
}

pub const HELP: &str = "\
emit_latency: latency of kino_emit_play / kino_emit_heartbeat through the C ABI

  cargo bench --bench emit_latency -- [OPTIONS]

Without any argument or KINO_BENCH_* variable (as `cargo test --benches`
runs it) only a quick smoke run is made; `cargo bench` passes --bench.

Options (each also read from the environment variable shown):
  --tight-calls N      timed back-to-back calls per thread   [KINO_BENCH_TIGHT_CALLS, 200000]
                       and destination (peak runs too)
  --paced-calls N      timed paced calls per thread and      [KINO_BENCH_PACED_CALLS, 10000]
                       destination (also components, control)
  --interval-us N      pacing interval in microseconds       [KINO_BENCH_INTERVAL_US, 200]
  --spin               pace by spinning instead of sleeping  [KINO_BENCH_SPIN=1]
  --no-syscall-count   do not count system calls (perf)      [KINO_BENCH_NO_SYSCALL_COUNT=1]
  --throughput-ms N    length of each throughput run         [KINO_BENCH_THROUGHPUT_MS, 500]
  --dest LIST          none,fast,down,hang,sampled-out       [KINO_BENCH_DEST]
  --event LIST         play,heartbeat                        [KINO_BENCH_EVENT]
  --threads LIST       1,2                                   [KINO_BENCH_THREADS]
  --mode LIST          tight,paced,throughput                [KINO_BENCH_MODE]
                       (also: components, not in the default run: the pieces of
                       Emitter::emit timed alone, paced, to see what dominates)
";

pub fn parse_list<T>(text: &str, item: impl Fn(&str) -> Option<T>) -> Vec<T> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| item(s).unwrap_or_else(|| panic!("emit_latency: unknown value '{s}'")))
        .collect()
}

impl Opts {
    pub fn parse() -> Opts {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.iter().any(|a| a == "--help" || a == "-h") {
            print!("{HELP}");
            std::process::exit(0);
        }
        // `cargo bench` passes `--bench`; filters and other flags a test
        // harness would take are ignored. `cargo test --benches` (or
        // `--all-targets`) runs this binary with no argument at all: then
        // only a quick smoke run is made, as criterion does.
        let smoke = args.is_empty() && !std::env::vars().any(|(k, _)| k.starts_with("KINO_BENCH_"));
        let (tight_default, paced_default, throughput_default) = if smoke {
            (2_000, 100, 20)
        } else {
            (200_000, 10_000, 500)
        };
        let value = |flag: &str, env: &str| -> Option<String> {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1).cloned())
                .or_else(|| std::env::var(env).ok())
        };
        let number = |flag: &str, env: &str, default: u64| -> u64 {
            value(flag, env).map_or(default, |v| {
                v.replace('_', "")
                    .parse()
                    .unwrap_or_else(|_| panic!("emit_latency: {flag} wants a number, got '{v}'"))
            })
        };
        let spin = args.iter().any(|a| a == "--spin")
            || std::env::var("KINO_BENCH_SPIN").is_ok_and(|v| v == "1");
        if args.iter().any(|a| a == "--no-syscall-count")
            || std::env::var("KINO_BENCH_NO_SYSCALL_COUNT").is_ok_and(|v| v == "1")
        {
            COUNT_SYSCALLS.store(false, std::sync::atomic::Ordering::Relaxed);
        }
        let dests = parse_list(
            &value("--dest", "KINO_BENCH_DEST").unwrap_or("none,fast,down,hang,sampled-out".into()),
            |s| match s {
                "none" => Some(Dest::None),
                "fast" => Some(Dest::Fast),
                "down" => Some(Dest::Down),
                "hang" => Some(Dest::Hang),
                "sampled-out" => Some(Dest::SampledOut),
                _ => None,
            },
        );
        let events = parse_list(
            &value("--event", "KINO_BENCH_EVENT").unwrap_or("play,heartbeat".into()),
            |s| match s {
                "play" => Some(Event::Play),
                "heartbeat" => Some(Event::Heartbeat),
                _ => None,
            },
        );
        let threads = parse_list(
            &value("--threads", "KINO_BENCH_THREADS").unwrap_or("1,2".into()),
            |s| s.parse().ok().filter(|n| (1..=64).contains(n)),
        );
        let modes = parse_list(
            &value("--mode", "KINO_BENCH_MODE").unwrap_or("tight,paced,throughput".into()),
            |s| match s {
                "tight" => Some("tight"),
                "paced" => Some("paced"),
                "throughput" => Some("throughput"),
                "components" => Some("components"),
                _ => None,
            },
        );
        Opts {
            smoke,
            tight_calls: number("--tight-calls", "KINO_BENCH_TIGHT_CALLS", tight_default) as usize,
            paced_calls: number("--paced-calls", "KINO_BENCH_PACED_CALLS", paced_default) as usize,
            interval: Duration::from_micros(number("--interval-us", "KINO_BENCH_INTERVAL_US", 200)),
            spin,
            throughput: Duration::from_millis(number(
                "--throughput-ms",
                "KINO_BENCH_THROUGHPUT_MS",
                throughput_default,
            )),
            dests,
            events,
            threads,
            modes,
        }
    }
}
