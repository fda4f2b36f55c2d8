//! The engine adapters' tests, shared parts: building a player (the
//! adapter's C source with a program, strictly, against the engine's
//! pkg-config flags and the freshly built libkino), running it against a
//! real collector, reading what it printed (its "engine" journal, kino's
//! counters and QoE), and holding kino's QoE to what the engine reported.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use serde_json::Value;

use super::cbuild;
use super::collector::Collector;

/// One engine and its adapter.
#[derive(Clone, Copy, Debug)]
pub struct Engine {
    /// pkg-config package of the engine's development files.
    pub pkg: &'static str,
    /// The adapter's source (its header is beside it).
    pub adapter: &'static str,
    /// The example player.
    pub example: &'static str,
    /// The prefix its lines start with, such as "gst-play".
    pub name: &'static str,
}

pub const GSTREAMER: Engine = Engine {
    pkg: "gstreamer-1.0",
    adapter: "adapters/gstreamer/kino_gst.c",
    example: "examples-c/gst_play.c",
    name: "gst-play",
};

pub const MPV: Engine = Engine {
    pkg: "mpv",
    adapter: "adapters/mpv/kino_mpv.c",
    example: "examples-c/mpv_play.c",
    name: "mpv-play",
};

/// `pkg-config ARGS PKG`, split into flags; fails the test when the
/// engine's development files are missing (scripts/test-deps.sh installs
/// them).
pub fn pkg_config(args: &[&str], pkg: &str) -> Vec<String> {
    let out = Command::new("pkg-config")
        .args(args)
        .arg(pkg)
        .output()
        .expect("run pkg-config (scripts/test-deps.sh installs it)");
    assert!(
        out.status.success(),
        "pkg-config {pkg} failed (scripts/test-deps.sh installs the engine's -dev package):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Flags for AddressSanitizer (and LeakSanitizer at exit). libstdc++ is
/// linked so ASan finds the real `__cxa_throw` when a C++ library the
/// engine loads (GIO's libproxy) throws.
pub const ASAN: &[&str] = &[
    "-fsanitize=address",
    "-fno-omit-frame-pointer",
    "-Wl,--no-as-needed",
    "-lstdc++",
];

/// Compiles `main` with `engine`'s adapter into program `name`, with the
/// repository's strict C flags, and returns its path.
pub fn build(engine: Engine, name: &str, main: &str, asan: bool) -> PathBuf {
    let dir = cbuild::root().join(engine.adapter);
    let include = format!("-I{}", dir.parent().unwrap().display());
    let mut extra: Vec<String> = vec![include];
    extra.extend(pkg_config(&["--cflags", "--libs"], engine.pkg));
    if asan {
        extra.extend(ASAN.iter().map(|s| s.to_string()));
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    cbuild::compile(name, &[main, engine.adapter], &extra)
}

/// Environment for a program built with [`ASAN`]: full stacks for every
/// allocation (the suppression needs them), the repository's suppressions.
pub fn asan_env() -> Vec<(String, String)> {
    let supp = cbuild::root().join("tests/c/lsan.supp");
    vec![
        (
            "ASAN_OPTIONS".into(),
            "fast_unwind_on_malloc=0:detect_leaks=1".into(),
        ),
        (
            "LSAN_OPTIONS".into(),
            format!("suppressions={}:print_suppressions=0", supp.display()),
        ),
    ]
}

/// What one engine told the program, as it printed it.
#[derive(Clone, Debug)]
pub struct EngineLine {
    /// Seconds since the program started.
    pub t: f64,
    pub what: String,
    pub args: Vec<String>,
}

/// A finished run of a player program.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub journal: Vec<EngineLine>,
    /// The `stats` line: emitted, delivered, failed, queued, dropped.
    pub stats: HashMap<String, f64>,
    /// The `qoe` line, as printed from kino_emitter_qoe.
    pub qoe: HashMap<String, f64>,
}

impl Run {
    pub fn stat(&self, name: &str) -> u64 {
        *self
            .stats
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in the stats line:\n{}", self.stdout))
            as u64
    }

    /// The journal lines of one kind.
    pub fn lines(&self, what: &str) -> Vec<&EngineLine> {
        self.journal.iter().filter(|l| l.what == what).collect()
    }
}

fn key_values(line: &str) -> HashMap<String, f64> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| v.parse::<f64>().ok().map(|v| (k.to_string(), v)))
        .collect()
}

/// Runs `program ARGS` with KINO_BEACON_URL, killed after `timeout` (by
/// coreutils' timeout: SIGTERM, which the players take as "the viewer
/// stopped"), and parses what it printed.
pub fn run(
    engine: Engine,
    program: &Path,
    args: &[&str],
    beacon: &str,
    env: &[(String, String)],
    timeout: Duration,
) -> Run {
    let mut cmd = Command::new("timeout");
    cmd.arg(timeout.as_secs().to_string())
        .arg(program)
        .args(args)
        .env("KINO_BEACON_URL", beacon);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the player under timeout");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let prefix = format!("{}: ", engine.name);
    let mut journal = Vec::new();
    let (mut stats, mut qoe) = (HashMap::new(), HashMap::new());
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix(&prefix) else {
            continue;
        };
        if let Some(rest) = rest.strip_prefix("engine ") {
            let mut words = rest.split_whitespace();
            let t = words.next().and_then(|t| t.parse::<f64>().ok());
            let what = words.next();
            if let (Some(t), Some(what)) = (t, what) {
                journal.push(EngineLine {
                    t: t / 1000.0,
                    what: what.to_string(),
                    args: words.map(str::to_string).collect(),
                });
            }
        } else if let Some(rest) = rest.strip_prefix("stats ") {
            stats = key_values(rest);
        } else if let Some(rest) = rest.strip_prefix("qoe ") {
            qoe = key_values(rest);
        }
    }
    Run {
        status: out.status,
        stdout,
        stderr,
        journal,
        stats,
        qoe,
    }
}

/// Every record the collector accepted: one session, sequence 1, 2, 3…
/// with no gap, as many as kino counted delivered, and kino's counters
/// adding up (`emitted == delivered + failed + queued`, nothing failed,
/// queued or dropped). Returns the records.
pub fn check_delivery(collector: &Collector, run: &Run) -> Vec<Value> {
    // The player flushed before it printed its counters, and the view's
    // qoe record follows its end or fatal error at once.
    let delivered = run.stat("delivered") as usize;
    assert!(
        collector.wait_for_records(delivered, Duration::from_secs(10)),
        "the collector did not get the {delivered} records kino counted delivered:\n{}",
        run.stdout
    );
    let records = collector.accepted_records();
    let seqs: Vec<u64> = records
        .iter()
        .map(|r| r["sequence"].as_u64().expect("sequence"))
        .collect();
    assert_eq!(
        seqs,
        (1..=records.len() as u64).collect::<Vec<_>>(),
        "records out of order or missing"
    );
    let session = &records[0]["session_id"];
    assert!(records.iter().all(|r| &r["session_id"] == session));
    assert_eq!(records.len(), delivered, "{}", run.stdout);
    assert_eq!(
        run.stat("emitted"),
        run.stat("delivered") + run.stat("failed") + run.stat("queued"),
        "{}",
        run.stdout
    );
    assert_eq!(
        (run.stat("failed"), run.stat("queued"), run.stat("dropped")),
        (0, 0, 0),
        "{}",
        run.stdout
    );
    records
}

/// The names of the records, in order.
pub fn names(records: &[Value]) -> Vec<&str> {
    records
        .iter()
        .map(|r| r["event"].as_str().unwrap_or("?"))
        .collect()
}

/// The view's figures as the engine's own signals give them, worked out by
/// each test from its journal with the rules docs/INTEGRATION.md states.
#[derive(Debug, Default)]
pub struct Figures {
    /// Load to the first frame.
    pub startup: f64,
    /// Every stall episode (after the start, outside seeks and user
    /// pauses), shorter ones (the blips) included, in seconds.
    pub episodes: Vec<f64>,
    /// Rendition changes after the first, by height.
    pub ups: u32,
    pub downs: u32,
    /// Seek request to the first frame after it.
    pub seek_latencies: Vec<f64>,
    /// Time the engine played, and in how many intervals.
    pub playing: f64,
    pub playing_intervals: usize,
    /// Stalls found by the position standing still (mpv): kino's playing
    /// clock stops only when the adapter notices, [`FREEZE_S`] later.
    pub freezes: usize,
}

/// How long the mpv adapter waits before it calls a standing position a
/// stall (FREEZE_US in adapters/mpv/kino_mpv.c).
pub const FREEZE_S: f64 = 1.0;

/// The adapters' default stall debounce (KinoGstOptions/KinoMpvOptions).
pub const DEBOUNCE_S: f64 = 0.2;

/// How far apart two observers of one engine signal may be, in seconds:
/// the adapter sees each signal on its own thread as the engine posts it,
/// the program on its own event loop when that gets to it. On an idle
/// machine the gap is a few milliseconds; 100 ms allows for a 2-core CI
/// runner that is also compiling.
pub const DISPATCH_S: f64 = 0.1;

fn approx(what: &str, kino: f64, engine: f64, tolerance: f64, qoe: &Value) {
    assert!(
        (kino - engine).abs() <= tolerance,
        "{what}: kino {kino:.3} s, the engine {engine:.3} s (tolerance {tolerance:.3} s)\n{qoe}"
    );
}

/// Holds kino's qoe record to the engine's figures:
/// - startup and each seek latency within [`DISPATCH_S`] (one boundary
///   each end, both seen by both);
/// - stalls: the episodes of at least [`DEBOUNCE_S`] are counted; one
///   within 50 ms of the debounce may fall either side (both observers
///   time it, each with its own dispatch delay); the stall time within
///   [`DISPATCH_S`] per stall;
/// - switches up and down exactly (both see the same renditions);
/// - playing time within [`DISPATCH_S`] per playing interval (two
///   boundaries each, plus the blips' pauses that neither side counts the
///   same way, a few ms each), plus [`FREEZE_S`] per freeze.
pub fn assert_agree(engine: &Figures, qoe: &Value) {
    assert_eq!(qoe["started"], true, "{qoe}");
    approx(
        "startup",
        qoe["initial_buffer_time"].as_f64().unwrap(),
        engine.startup,
        DISPATCH_S,
        qoe,
    );

    let sure = engine
        .episodes
        .iter()
        .filter(|d| **d >= DEBOUNCE_S + 0.05)
        .count();
    let maybe = engine
        .episodes
        .iter()
        .filter(|d| **d >= DEBOUNCE_S - 0.05)
        .count();
    let stalls = qoe["rebuffer_count"].as_u64().unwrap() as usize;
    assert!(
        (sure..=maybe).contains(&stalls),
        "stalls: kino {stalls}, the engine {sure}..={maybe} of {:?}\n{qoe}",
        engine.episodes
    );
    let counted: f64 = engine
        .episodes
        .iter()
        .filter(|d| **d >= DEBOUNCE_S + 0.05)
        .sum();
    let borderline: f64 = engine
        .episodes
        .iter()
        .filter(|d| (DEBOUNCE_S - 0.05..DEBOUNCE_S + 0.05).contains(*d))
        .sum();
    approx(
        "stall time",
        qoe["rebuffer_duration"].as_f64().unwrap(),
        counted,
        DISPATCH_S * stalls.max(1) as f64 + borderline,
        qoe,
    );

    assert_eq!(
        (
            qoe["upshifts"].as_u64().unwrap(),
            qoe["downshifts"].as_u64().unwrap()
        ),
        (u64::from(engine.ups), u64::from(engine.downs)),
        "switches (up, down)\n{qoe}"
    );

    assert_eq!(
        qoe["seek_count"].as_u64().unwrap() as usize,
        engine.seek_latencies.len(),
        "{qoe}"
    );
    if !engine.seek_latencies.is_empty() {
        let mean = engine.seek_latencies.iter().sum::<f64>() / engine.seek_latencies.len() as f64;
        approx(
            "seek latency",
            qoe["average_seek_latency"].as_f64().unwrap(),
            mean,
            DISPATCH_S,
            qoe,
        );
    }

    approx(
        "playing time",
        qoe["playing_time"].as_f64().unwrap(),
        engine.playing,
        DISPATCH_S * engine.playing_intervals.max(1) as f64 + FREEZE_S * engine.freezes as f64,
        qoe,
    );
}

/// The qoe record (the last record) of a run.
pub fn qoe_record(records: &[Value]) -> &Value {
    let qoe = records.last().expect("records");
    assert_eq!(qoe["event"], "qoe", "the view's qoe record comes last");
    qoe
}

/// Compiles a program whose `main` is `body`, including `header`, as C99
/// and as C++11 (`-Wall -Wextra -Werror`), links each with the adapter
/// (compiled as C) and runs it: the header is usable from both languages.
pub fn check_header_c99_cpp(engine: Engine, header: &str, body: &str) {
    let dir = cbuild::out_dir();
    let root = cbuild::root();
    let adapter_dir = root.join(engine.adapter).parent().unwrap().to_path_buf();
    let flags = pkg_config(&["--cflags", "--libs"], engine.pkg);
    let lib = cbuild::linkable_lib_dir();
    let stem = header.trim_end_matches(".h");
    let object = dir.join(format!("{stem}.adapter.o"));
    let src = format!("#include \"{header}\"\nint main(void) {{\n{body}\n}}\n");
    let mut jobs = vec![(
        "cc",
        vec!["-std=c99", "-Wpedantic", "-c"],
        root.join(engine.adapter),
        object.clone(),
    )];
    for (compiler, std, ext) in [("cc", "-std=c99", "c"), ("c++", "-std=c++11", "cpp")] {
        let file = dir.join(format!("{stem}_header.{ext}"));
        std::fs::write(&file, &src).unwrap();
        jobs.push((
            compiler,
            vec![std],
            file,
            dir.join(format!("{stem}_header_{ext}")),
        ));
    }
    for (i, (compiler, std, file, out_path)) in jobs.iter().enumerate() {
        let mut cmd = Command::new(compiler);
        cmd.args(std)
            .args(["-Wall", "-Wextra", "-Werror", "-D_POSIX_C_SOURCE=200809L"])
            .arg(format!("-I{}", root.join("include").display()))
            .arg(format!("-I{}", adapter_dir.display()))
            .arg(file);
        if i > 0 {
            cmd.arg(&object)
                .args(&flags)
                .arg(format!("-L{}", lib.display()))
                .arg("-lkino")
                .arg("-lpthread")
                .arg(format!("-Wl,-rpath,{}", lib.display()));
        } else {
            cmd.args(&flags);
        }
        let out = cmd.arg("-o").arg(out_path).output().unwrap();
        assert!(
            out.status.success(),
            "{compiler} {std:?} {}:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        if i > 0 {
            let status = Command::new(out_path).status().unwrap();
            assert!(status.success(), "{} exited {status}", out_path.display());
        }
    }
}

/// The example player of `engine`, built plain or with [`ASAN`].
pub fn example(engine: Engine, asan: bool) -> PathBuf {
    let name = format!("{}{}", engine.name, if asan { "-asan" } else { "" });
    build(engine, &name, engine.example, asan)
}

fn env_for(asan: bool) -> Vec<(String, String)> {
    if asan {
        asan_env()
    } else {
        Vec::new()
    }
}

/// Plays the shared ladder with `engine`'s example player through
/// `schedule`, with the scripted viewer `script`, to its end; checks the
/// delivery; returns the run, the records and the engine's figures (as
/// `figures` works them out from the journal).
pub fn play(
    engine: Engine,
    script: &[&str],
    schedule: Vec<super::hls::Phase>,
    asan: bool,
    figures: fn(&Run) -> Figures,
) -> (Run, Vec<Value>, Figures) {
    let server = super::hls::HlsServer::start(super::hls::ladder(), schedule);
    let collector = Collector::start();
    let program = example(engine, asan);
    let url = server.url("master.m3u8");
    let mut args = vec![url.as_str()];
    args.extend_from_slice(script);
    let run = run(
        engine,
        &program,
        &args,
        &collector.url(),
        &env_for(asan),
        Duration::from_secs(120),
    );
    assert!(
        run.status.success(),
        "{} failed ({}):\n{}\n{}",
        engine.name,
        run.status,
        run.stdout,
        run.stderr
    );
    let records = check_delivery(&collector, &run);
    let figures = figures(&run);
    (run, records, figures)
}

/// Plays `url` with `engine`'s example player (under ASan) where it must
/// end in a fatal error: the player exits 1 (not by a signal, not with
/// LeakSanitizer's 23), the error record is fatal, the view failed.
/// Returns the records.
pub fn play_to_fatal_error(
    engine: Engine,
    url: &str,
    server: &super::hls::HlsServer,
) -> Vec<Value> {
    let collector = Collector::start();
    let program = example(engine, true);
    let run = run(
        engine,
        &program,
        &[url, "--buffer", "3"],
        &collector.url(),
        &asan_env(),
        Duration::from_secs(90),
    );
    assert_eq!(
        run.status.code(),
        Some(1),
        "a fatal error, no crash, no leak:\n{}\n{}\n{:?}",
        run.stdout,
        run.stderr,
        server.requests()
    );
    assert!(!run.stderr.contains("Sanitizer"), "{}", run.stderr);
    let records = check_delivery(&collector, &run);
    assert!(
        records
            .iter()
            .any(|r| r["event"] == "error" && r["fatal"] == true),
        "no fatal error: {:?}\n{}",
        names(&records),
        run.stdout
    );
    assert_eq!(
        qoe_record(&records)["playback_failed"],
        true,
        "{:?}\n{}",
        names(&records),
        run.stdout
    );
    records
}

/// Runs the lifetime program `source` (tests/c/…) under ASan on the
/// unthrottled ladder; it prints "<stem>: ok" when its checks hold.
pub fn run_lifecycle(engine: Engine, source: &str) {
    let server = super::hls::HlsServer::start(super::hls::ladder(), Vec::new());
    let collector = Collector::start();
    let stem = Path::new(source).file_stem().unwrap().to_str().unwrap();
    let program = build(engine, stem, source, true);
    let run = run(
        engine,
        &program,
        &[&server.url("master.m3u8")],
        &collector.url(),
        &asan_env(),
        Duration::from_secs(120),
    );
    assert!(
        run.status.success() && run.stdout.contains(&format!("{stem}: ok")),
        "{stem} ({}):\n{}\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
}

/// The scripted viewer both adapter tests play: a user pause at 3 s for
/// 2 s, a seek from 5 s back to 2 s, a 3 s buffer goal.
pub const SCRIPT: &[&str] = &[
    "--pause-at",
    "3",
    "--pause-for",
    "2",
    "--seek-at",
    "5",
    "--seek-to",
    "2",
    "--buffer",
    "3",
];

/// The throttled schedule both adapter tests play: unlimited for 10 s,
/// 1.5 Mbit/s until 18 s (below the top variant: a switch down), nothing
/// until 24 s (a stall of several seconds), then unlimited again.
pub fn throttle() -> Vec<super::hls::Phase> {
    use super::hls::{mbit, unlimited};
    vec![
        unlimited(0.0),
        mbit(10.0, 1.5),
        mbit(18.0, 0.0),
        unlimited(24.0),
    ]
}

/// Counts a rendition of `size` ("WxH", from the journal) as a switch up
/// or down from the last one by height. A height of 0 (the engine has no
/// video parameters for a moment, as during a track switch) is no
/// rendition: it is neither counted nor remembered.
pub fn note_rendition(f: &mut Figures, last_height: &mut Option<u32>, size: &str) {
    let h: u32 = size.split('x').nth(1).unwrap().parse().unwrap();
    if h == 0 {
        return;
    }
    match *last_height {
        Some(old) if h > old => f.ups += 1,
        Some(old) if h < old => f.downs += 1,
        _ => {}
    }
    *last_height = Some(h);
}

/// What every view the scripted viewer played shows on either engine:
/// one load first, end and qoe last, one user pause, one seek (from 5 s
/// back to 2 s: a key-unit seek may land up to a GOP, 1 s, before its
/// target; `from` is read as it starts), three plays, stalls paired, no
/// error, heartbeats with figures, and a first `initial` switch to the
/// 180p variant, `abr` ones after it. Returns the
/// quality_change records for the engine's own checks.
pub fn check_scripted_view(records: &[Value]) -> Vec<&Value> {
    let names = names(records);
    let count = |n: &str| names.iter().filter(|x| **x == n).count();
    assert_eq!(names[0], "load", "{names:?}");
    assert_eq!(names[names.len() - 2..], ["end", "qoe"], "{names:?}");
    assert_eq!(count("load"), 1, "{names:?}");
    assert_eq!(
        count("pause"),
        1,
        "one user pause; the engine's pauses for buffering and seeking are not: {names:?}"
    );
    assert_eq!(count("seek"), 1, "track switches are no seeks: {names:?}");
    assert_eq!(
        count("play"),
        3,
        "the first frame, after the pause, after the seek: {names:?}"
    );
    assert_eq!(count("rebuffer"), count("rebuffer_end"), "{names:?}");
    let seek = records.iter().find(|r| r["event"] == "seek").unwrap();
    assert!((seek["from"].as_f64().unwrap() - 5.0).abs() < 0.3, "{seek}");
    assert!((seek["to"].as_f64().unwrap() - 2.0).abs() <= 1.0, "{seek}");
    assert_eq!(count("error"), 0, "{names:?}");
    assert!(count("heartbeat") >= 2, "10 s heartbeats: {names:?}");
    for hb in records.iter().filter(|r| r["event"] == "heartbeat") {
        assert!(hb["decoded_frames"].as_u64() > Some(0), "{hb}");
        assert!(hb["bitrate"].as_u64() > Some(0), "{hb}");
        assert!(hb["position"].as_f64() > Some(0.0), "{hb}");
    }
    let quality: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "quality_change")
        .collect();
    assert_eq!(quality[0]["reason"], "initial", "{}", quality[0]);
    assert_eq!(quality[0]["to_resolution"]["height"], 180, "{}", quality[0]);
    for q in &quality[1..] {
        assert_eq!(q["reason"], "abr", "{q}");
    }
    quality
}

/// (After [`check_scripted_view`].) The throttled run did what it is for, by the engine's own account: a
/// real switch down, a real switch up after it, a stall of several
/// seconds. Then kino's qoe record agrees with the engine's figures.
pub fn check_throttled_run(run: &Run, records: &[Value], engine: &Figures) {
    assert!(
        engine.downs >= 1,
        "no switch down: {engine:?}\n{}",
        run.stdout
    );
    assert!(
        engine.ups >= 2,
        "no switch up after the down: {engine:?}\n{}",
        run.stdout
    );
    assert!(
        engine.episodes.iter().any(|d| *d >= 2.0),
        "no stall of several seconds: {engine:?}\n{}",
        run.stdout
    );
    let qoe = qoe_record(records);
    eprintln!("throttled run: the engine {engine:?}\nkino {qoe}");
    assert_agree(engine, qoe);
}

/// (After [`check_scripted_view`].) The control run (no throttling): no stall and no switch down, by kino
/// and by the engine (its dips below the debounce are no stalls), and
/// kino's qoe record agrees with the engine's figures.
pub fn check_control_run(run: &Run, records: &[Value], engine: &Figures) {
    let qoe = qoe_record(records);
    assert_eq!(qoe["rebuffer_count"], 0, "{qoe}\n{}", run.stdout);
    assert_eq!(qoe["downshifts"], 0, "{qoe}\n{}", run.stdout);
    assert_eq!(engine.downs, 0, "{engine:?}");
    assert!(
        engine.episodes.iter().all(|d| *d < DEBOUNCE_S),
        "a real stall without throttling: {engine:?}\n{}",
        run.stdout
    );
    assert_agree(engine, qoe);
    eprintln!(
        "control run: {} dip(s) below the debounce ({:?} s), none reported",
        engine.episodes.len(),
        engine.episodes
    );
}
