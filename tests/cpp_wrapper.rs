//! The C++ wrapper (include/kino.hpp): tests/cpp/wrapper.cpp compiled as
//! strict C++17 against the freshly built libkino.so, run against a real
//! collector.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::cbuild;
use support::collector::Collector;

/// Compiles tests/cpp/wrapper.cpp (C++17, every warning an error) and
/// returns the program.
fn compile_wrapper() -> PathBuf {
    let lib = cbuild::linkable_lib_dir();
    let out = cbuild::out_dir().join("cpp-wrapper");
    let output = Command::new("c++")
        .args([
            "-std=c++17",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            // Stricter than asked: a header must not warn in users' builds.
            "-Wconversion",
            "-Wsign-conversion",
            "-Wshadow",
            "-Wold-style-cast",
            "-g",
        ])
        .arg("-I")
        .arg(cbuild::root().join("include"))
        .arg(cbuild::root().join("tests/cpp/wrapper.cpp"))
        .arg("-o")
        .arg(&out)
        .arg(format!("-L{}", lib.display()))
        .arg("-lkino")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .output()
        .expect("run c++ (apt-get install g++)");
    assert!(
        output.status.success(),
        "compiling tests/cpp/wrapper.cpp failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

#[test]
fn cpp_wrapper_runs_a_session_and_throws_on_refused_calls() {
    let program = compile_wrapper();
    let collector = Collector::start();
    let url = collector.url();
    let out = cbuild::run(&program, &[url.as_str()], &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "wrapper failed:\n{stdout}\n{stderr}");
    assert_eq!(stdout.lines().last(), Some("wrapper: ok"), "{stdout}");

    // Refused calls threw kino::Error carrying the status and kino's message.
    for line in [
        "throws: play(NaN) -> KINO_STATUS_INVALID_ARGUMENT: ",
        "throws: state_change(99) -> KINO_STATUS_INVALID_ARGUMENT: ",
        "throws: custom(bad json) -> KINO_STATUS_INVALID_ARGUMENT: ",
        "throws: load(NUL inside) -> KINO_STATUS_INVALID_ARGUMENT: URL contains a NUL byte",
        "throws: moved-from play -> KINO_STATUS_NULL_ARGUMENT: ",
        "throws: batch_size(0) -> KINO_STATUS_INVALID_ARGUMENT: ",
        "throws: moved-from config -> KINO_STATUS_NULL_ARGUMENT: ",
    ] {
        let found = stdout.lines().find(|l| l.starts_with(line));
        let found = found.unwrap_or_else(|| panic!("no line starting {line:?} in:\n{stdout}"));
        assert!(
            found.len() > line.len() || line.ends_with("byte"),
            "the error carries kino_last_error_message(): {found:?}"
        );
    }
    assert!(stdout.contains("qoe calculator: 5 s startup -> 85.0"));

    // The collector session: everything the wrapper emitted, nothing it refused.
    assert!(collector.wait_for_records(1, Duration::from_secs(5)));
    let records = collector.accepted_records();
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["event"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        names,
        [
            "load",
            "state_change",
            "quality_change",
            "play",
            "quality_change",
            "heartbeat",
            "rebuffer",
            "rebuffer_end",
            "seek",
            "play",
            "pause",
            "play",
            "error",
            "custom",
            "custom",
            "state_change",
            "end",
            "qoe"
        ]
    );
    let session = stdout
        .lines()
        .find_map(|l| l.strip_prefix("session: "))
        .expect("session line");
    assert!(records.iter().all(|r| r["session_id"] == session));
    let seqs: Vec<u64> = records
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=records.len() as u64).collect::<Vec<_>>(),
        "refused calls take no sequence number"
    );
    assert_eq!(records[0]["url"], "https://cdn.example/wrapper/master.m3u8");
    assert_eq!(records[2]["reason"], "initial");
    assert_eq!(records[2]["from_resolution"], serde_json::Value::Null);
    assert_eq!(records[2]["to_resolution"]["width"], 640);
    assert_eq!(records[4]["reason"], "abr");
    assert_eq!(records[4]["to_bitrate"], 2_500_000);
    assert_eq!(records[13]["name"], "cpp_event");
    assert_eq!(records[13]["data"], serde_json::json!({"k": 1}));
    assert_eq!(records[14]["name"], "cpp_null");
    assert_eq!(records[14]["data"], serde_json::Value::Null);
    let qoe = records.last().unwrap();
    assert_eq!(qoe["started"], true, "{qoe}");
    assert_eq!(qoe["quality_switches"], 1, "{qoe}");
    for b in collector.beacons() {
        assert_eq!(b.header("x-wrapper"), Some("kino.hpp"));
    }
    assert!(stdout.contains(&format!(
        "stats: emitted={n} delivered={n} failed=0 dropped=0 queued=0",
        n = records.len()
    )));
}
