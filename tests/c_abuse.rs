//! The C API abused from C: builds `tests/c/abuse.c` strictly against
//! `include/kino.h` and `libkino.so` with AddressSanitizer, UBSan and
//! LeakSanitizer, runs it against a real collector, and checks what
//! arrived. Also compiles the header on its own as C99, C11 and C++11.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::cbuild;
use support::collector::Collector;

/// One `session <uuid> <records> <label>` line printed by the program.
#[derive(Debug)]
struct Session {
    records: usize,
    label: String,
}

fn parse_sessions(stdout: &str) -> BTreeMap<String, Session> {
    let mut sessions = BTreeMap::new();
    for line in stdout.lines() {
        let mut parts = line.split_whitespace();
        if parts.next() != Some("session") {
            continue;
        }
        let id = parts.next().expect("session id").to_owned();
        uuid::Uuid::parse_str(&id).expect("session id is a UUID");
        let records = parts
            .next()
            .and_then(|n| n.parse().ok())
            .expect("record count");
        let label = parts.next().expect("label").to_owned();
        assert!(
            sessions.insert(id, Session { records, label }).is_none(),
            "session printed twice"
        );
    }
    sessions
}

#[test]
fn c_abuse_program_passes_under_sanitizers() {
    let program = cbuild::compile("abuse", &["tests/c/abuse.c"], cbuild::SANITIZE);
    let collector = Collector::start();
    let url = collector.url();
    // LeakSanitizer runs in this sandbox (checked: a deliberate leak makes
    // the process exit non-zero), so leaks fail the test.
    let cbuild::Checked {
        stdout,
        report,
        passed,
    } = cbuild::run_checks("abuse", &program, &[&url], &[("KINO_BEACON_URL", &url)]);
    assert!(passed > 400, "only {passed} checks ran: {report}");

    // What the collector got: exactly the sessions the program reported,
    // each with its records in order and without gaps.
    let sessions = parse_sessions(&stdout);
    let labels: BTreeSet<&str> = sessions.values().map(|s| s.label.as_str()).collect();
    for label in [
        "env-config",
        "env-default",
        "env-read-at-new",
        "env-explicit-wins",
        "env-invalid-then-explicit",
        "limits",
        "main",
    ] {
        assert!(labels.contains(label), "no {label} session: {report}");
    }
    let expected: usize = sessions.values().map(|s| s.records).sum();
    // The program flushed every session before freeing it; kino's own
    // records (a view's qoe) are sent at the latest when it is freed.
    assert!(collector.wait_for_records(expected, Duration::from_secs(10)));
    let mut by_session: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for r in collector.accepted_records() {
        let id = r["session_id"].as_str().expect("session_id").to_owned();
        by_session.entry(id).or_default().push(r);
    }
    let got: BTreeSet<&String> = by_session.keys().collect();
    let want: BTreeSet<&String> = sessions.keys().collect();
    assert_eq!(
        got, want,
        "sessions at the collector differ from those meant to reach it"
    );
    for (id, records) in &mut by_session {
        let session = &sessions[id];
        records.sort_by_key(|r| r["sequence"].as_u64().expect("sequence"));
        let seqs: Vec<u64> = records
            .iter()
            .map(|r| r["sequence"].as_u64().unwrap())
            .collect();
        let contiguous: Vec<u64> = (1..=records.len() as u64).collect();
        assert_eq!(seqs, contiguous, "session {} ({})", id, session.label);
        let host = records.iter().filter(|r| r["event"] != "qoe").count();
        assert_eq!(
            host, session.records,
            "records of session {} ({})",
            id, session.label
        );
        let ids: BTreeSet<&str> = records.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), records.len(), "record ids are unique");
    }

    let of = |label: &str| -> &Vec<Value> {
        let id = sessions
            .iter()
            .find(|(_, s)| s.label == label)
            .map(|(id, _)| id)
            .expect("label");
        &by_session[id]
    };

    // The main session: redacted URL, every event kind, the threads' heartbeats.
    let main = of("main");
    assert_eq!(main[0]["event"], "load");
    assert_eq!(main[0]["url"], "https://cdn.example/movie/master.m3u8");
    let heartbeats = main.iter().filter(|r| r["event"] == "heartbeat").count();
    assert_eq!(heartbeats, 1 + 4 * 25);
    let kinds: BTreeSet<&str> = main.iter().map(|r| r["event"].as_str().unwrap()).collect();
    for kind in [
        "load",
        "state_change",
        "quality_change",
        "play",
        "heartbeat",
        "rebuffer",
        "rebuffer_end",
        "seek",
        "pause",
        "error",
        "custom",
        "end",
    ] {
        assert!(kinds.contains(kind), "main session has no {kind}");
    }
    let custom = main.iter().find(|r| r["event"] == "custom").unwrap();
    assert_eq!(
        custom["data"],
        serde_json::json!({"slot":"mid","ids":[1,2,3]})
    );
    let main_id = main[0]["session_id"].as_str().unwrap();
    let beacons: Vec<_> = collector
        .beacons()
        .into_iter()
        .filter(|b| {
            b.records()
                .first()
                .is_some_and(|r| r["session_id"] == main_id)
        })
        .collect();
    assert!(!beacons.is_empty());
    for b in &beacons {
        assert_eq!(b.header("X-Abuse"), Some("session"));
        assert_eq!(b.header("X-Bad"), None);
        assert_eq!(b.header("X-Injected"), None);
        assert!(b.records().len() <= 7, "batch size 7");
    }

    // The limits session: the 100 KB URL cut at a character boundary, the
    // 65 536-byte JSON delivered whole, NULL JSON as null, the code cut.
    let limits = of("limits");
    let load = limits.iter().find(|r| r["event"] == "load").unwrap();
    let url = load["url"].as_str().unwrap();
    assert!(url.len() <= 8192);
    assert_eq!(url.len(), 8190, "longest whole-UTF-8 prefix within 8 KiB");
    assert!(url.starts_with("https://cdn.example/aaa") && url.ends_with('a'));
    let at_limit = limits.iter().find(|r| r["name"] == "at_limit").unwrap();
    assert_eq!(at_limit["data"], Value::String("y".repeat(65_534)));
    let null_data = limits.iter().find(|r| r["name"] == "null_data").unwrap();
    assert!(null_data.as_object().unwrap().contains_key("data"));
    assert_eq!(null_data["data"], Value::Null);
    let error = limits.iter().find(|r| r["event"] == "error").unwrap();
    assert_eq!(error["code"], "c".repeat(256));
}

/// A translation unit that includes the header twice (the include guard
/// must hold) and uses a little of everything in it.
const HEADER_TU: &str = r#"
#include "kino.h"
#include "kino.h"

int kino_header_check(void);

int kino_header_check(void)
{
    KinoStats stats;
    KinoQoeBreakdown breakdown;
    KinoResolution resolution = {1920, 1080};
    KinoBatchCallback callback = 0;
    KinoStatus status = KINO_STATUS_OK;
    KinoStatus (*emit_play)(KinoEmitter *, double) = kino_emit_play;
    const char *(*message)(void) = kino_last_error_message;
    (void)stats;
    (void)breakdown;
    (void)resolution;
    (void)callback;
    (void)emit_play;
    (void)message;
    return (int)status + KINO_PLAYER_STATE_ERROR + KINO_QUALITY_CHANGE_REASON_INITIAL
        + KINO_STATUS_PANIC + KINO_VERSION_MAJOR + (int)sizeof(KINO_VERSION_STRING)
        + KINO_MAX_QUEUE_CAPACITY + KINO_MAX_CUSTOM_JSON_BYTES;
}
"#;

fn compile_header(compiler: &str, args: &[&str], name: &str) {
    let dir = cbuild::out_dir();
    let source = dir.join(name);
    std::fs::write(&source, HEADER_TU).expect("write translation unit");
    let include = cbuild::root().join("include");
    let output = Command::new(compiler)
        .args(args)
        .arg("-fsyntax-only")
        .arg("-I")
        .arg(&include)
        .arg(&source)
        .output()
        .unwrap_or_else(|e| panic!("run {compiler}: {e}"));
    assert!(
        output.status.success(),
        "{compiler} {args:?} on kino.h failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A batch callback that frees its own emitter is refused with a message
/// (never a deadlock), and the emitter goes on working (issue 8 §3).
#[test]
fn a_callback_freeing_its_own_emitter_is_refused_not_a_hang() {
    let program = cbuild::compile("self_free", &["tests/c/self_free.c"], cbuild::SANITIZE);
    let output = cbuild::run(
        &program,
        &[],
        &[
            ("ASAN_OPTIONS", "detect_leaks=1:exitcode=86"),
            ("UBSAN_OPTIONS", "halt_on_error=1:exitcode=87"),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "self_free failed ({:?}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("refused 1"), "{stdout}");
}

#[test]
fn header_compiles_alone_as_c99() {
    compile_header(
        "cc",
        &[
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-x",
            "c",
        ],
        "abuse_header_c99.c",
    );
}

#[test]
fn header_compiles_alone_as_c11() {
    compile_header(
        "cc",
        &[
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-x",
            "c",
        ],
        "abuse_header_c11.c",
    );
}

#[test]
fn header_compiles_alone_as_cxx11() {
    compile_header(
        "c++",
        &["-std=c++11", "-x", "c++", "-Wall", "-Wextra", "-Werror"],
        "abuse_header_cxx11.cpp",
    );
}

/// The header's declarations have C linkage in C++ (`extern "C"`): a C++
/// program links against the C library's unmangled symbols.
#[test]
fn header_links_from_cxx() {
    let dir = cbuild::out_dir();
    let source = dir.join("abuse_link.cpp");
    std::fs::write(
        &source,
        r#"
#include "kino.h"
#include <cstring>
int main() {
    KinoEmitter *e = 0;
    if (kino_emitter_new(0, &e) != KINO_STATUS_OK) return 1;
    KinoStatus s = kino_emit_state_change(e, KINO_PLAYER_STATE_IDLE, static_cast<KinoPlayerState>(99), 0.0);
    kino_emitter_free(e);
    if (s != KINO_STATUS_INVALID_ARGUMENT) return 2;
    if (std::strcmp(kino_version(), KINO_VERSION_STRING) != 0) return 3;
    return 0;
}
"#,
    )
    .expect("write C++ program");
    let exe = dir.join("abuse_link_cxx");
    let lib = cbuild::linkable_lib_dir();
    let output = Command::new("c++")
        .args(["-std=c++11", "-Wall", "-Wextra", "-Werror"])
        .arg("-I")
        .arg(cbuild::root().join("include"))
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib.display()))
        .arg("-lkino")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .output()
        .expect("run c++");
    assert!(
        output.status.success(),
        "C++ link failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let run = cbuild::run(&exe, &[], &[]);
    assert!(run.status.success(), "C++ program: {:?}", run.status);
}
